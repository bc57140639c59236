"""The sample service our users run: a FastAPI app instrumented with
prometheus-fastapi-instrumentator, exposing /metrics, with one endpoint."""

from fastapi import FastAPI
from prometheus_fastapi_instrumentator import Instrumentator

app = FastAPI()


@app.get("/api/v1/health")
def health():
    return {"status": "OK"}


Instrumentator().instrument(app).expose(app, include_in_schema=False)
