"""`create_app(pool, ...)`: the FastAPI app of the OpenAI-compatible API, every route under /v1. Another frontend
(a web app) can build it the same way and mount it, so pages and API share one process.

    app = create_app(ModelPool(ServeSettings(), workspace_runs=ws.runs_dir), api_key="sk-local")
    uvicorn.run(app, host="127.0.0.1", port=8000)
"""
from __future__ import annotations

import hmac
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool

from ... import models
from ...config import GenerationOptions
from ...errors import SelfcloneError
from . import errors
from .errors import APIError, error_response, from_library
from .model_pool import ModelPool
from .routes_chat import router as chat_router
from .routes_files import router as files_router
from .routes_jobs import router as jobs_router

models_router = APIRouter()


@models_router.get("/models")
async def list_models(request: Request):
    rows = await run_in_threadpool(request.app.state.pool.listing)
    return {"object": "list", "data": rows}


@models_router.get("/models/{model_id:path}")
async def retrieve_model(model_id: str, request: Request):
    for row in await run_in_threadpool(request.app.state.pool.listing):
        if row["id"] == model_id:
            return row
    raise APIError(404, f"the model '{model_id}' does not exist here (GET /v1/models lists them)",
                   param="model", code="model_not_found")


@models_router.delete("/models/{model_id:path}")
async def delete_model(model_id: str, request: Request):
    pool: ModelPool = request.app.state.pool
    try:
        await run_in_threadpool(models.delete_clone, model_id, pool.workspace_runs)
    except SelfcloneError as exc:
        raise from_library(exc, param="model") from exc
    pool.unload(model_id)
    return {"id": model_id, "object": "model", "deleted": True}


def create_app(pool: ModelPool, *, generation: GenerationOptions | None = None, api_key: str | None = None,
               store_path: Path | None = None) -> FastAPI:
    """The API over `pool`; requests need `Authorization: Bearer API_KEY` when a key is given. `generation` holds the
    defaults a request's sampling fields override (the workspace's [generation])."""
    app = FastAPI(title="selfclone", docs_url=None, redoc_url=None, openapi_url="/v1/openapi.json")
    app.state.pool = pool
    app.state.generation = generation or GenerationOptions()
    app.state.store_path = store_path
    errors.install(app)

    if api_key:
        expected = f"Bearer {api_key}".encode()

        @app.middleware("http")
        async def _auth(request: Request, call_next):
            given = request.headers.get("authorization", "").encode()
            if request.url.path.startswith("/v1") and not hmac.compare_digest(given, expected):
                return error_response(APIError(401, "missing or incorrect API key: send Authorization: Bearer KEY "
                                                    "with the key `selfclone serve api` was started with",
                                               code="invalid_api_key"))
            return await call_next(request)

    app.include_router(models_router, prefix="/v1")
    app.include_router(chat_router, prefix="/v1")
    app.include_router(files_router, prefix="/v1")
    app.include_router(jobs_router, prefix="/v1")
    return app
