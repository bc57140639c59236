//! Work split over threads for one request: the first job on the calling
//! thread, each other on a scoped thread of its own, the results in the
//! jobs' order.

/// `f` over each of `jobs`, the first on this thread and each other on a
/// thread of its own, with the results in order; a panic in a job is
/// raised again here.
pub fn on_threads<T: Send, R: Send>(jobs: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let mut jobs = jobs.into_iter();
    let Some(first) = jobs.next() else {
        return Vec::new();
    };
    if jobs.len() == 0 {
        return vec![f(first)];
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs.map(|j| scope.spawn(move || f(j))).collect();
        let mut out = vec![f(first)];
        for h in handles {
            match h.join() {
                Ok(r) => out.push(r),
                Err(e) => std::panic::resume_unwind(e),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_in_the_jobs_order() {
        assert_eq!(
            on_threads(vec![1, 2, 3, 4], |x| x * 10),
            vec![10, 20, 30, 40]
        );
        assert_eq!(on_threads(vec![7], |x| x + 1), vec![8]);
        assert!(on_threads(Vec::<u8>::new(), |x| x).is_empty());
    }
}
