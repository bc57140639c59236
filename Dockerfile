# flint in the shape of the prom/prometheus image: the binary at
# /bin/prometheus (and /bin/flint, /bin/promtool for promtool's check, test
# and tsdb commands), the same entrypoint, default arguments, port, volume,
# working directory and user (nobody, 65534), a default prometheus.yml.
#
#   docker build -t flint .
#   docker run -p 9090:9090 -v prometheus-data:/prometheus flint

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# a static binary: it runs on an empty root
RUN RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target x86_64-unknown-linux-gnu --bin flint \
 && cp target/x86_64-unknown-linux-gnu/release/flint /flint \
 && mkdir -p /root-fs/bin /root-fs/etc/prometheus /root-fs/prometheus /root-fs/etc/ssl/certs \
 && cp /flint /root-fs/bin/prometheus \
 && ln -s prometheus /root-fs/bin/flint \
 && ln -s prometheus /root-fs/bin/promtool \
 && cp contrib/prometheus.yml /root-fs/etc/prometheus/prometheus.yml \
 && cp /etc/ssl/certs/ca-certificates.crt /root-fs/etc/ssl/certs/ \
 && echo 'nobody:x:65534:65534:nobody:/home:/bin/false' > /root-fs/etc/passwd \
 && echo 'nobody:x:65534:' > /root-fs/etc/group \
 && chown -R 65534:65534 /root-fs/etc/prometheus /root-fs/prometheus

FROM scratch
COPY --from=build /root-fs/ /
USER       nobody
EXPOSE     9090
VOLUME     [ "/prometheus" ]
WORKDIR    /prometheus
ENTRYPOINT [ "/bin/prometheus" ]
CMD        [ "--config.file=/etc/prometheus/prometheus.yml", \
             "--storage.tsdb.path=/prometheus", \
             "--web.console.libraries=/usr/share/prometheus/console_libraries", \
             "--web.console.templates=/usr/share/prometheus/consoles" ]
