"""Kitchen tasks and the notifications they leave for waiters."""

from __future__ import annotations

from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from domain import kitchen
from routes.common import actor, body, query, respond, services


async def task_list(request: Request) -> JSONResponse:
    return respond(await kitchen.list_tasks(services(request), await actor(request), query(request)))


class Task(HTTPEndpoint):
    async def get(self, request: Request) -> JSONResponse:
        task_id = request.path_params["task_id"]
        return respond(await kitchen.get_task(services(request), await actor(request), task_id))

    async def patch(self, request: Request) -> JSONResponse:
        task_id = request.path_params["task_id"]
        return respond(await kitchen.update_task(services(request), await actor(request), task_id, await body(request)))


async def claim(request: Request) -> JSONResponse:
    return respond(await kitchen.claim_task(services(request), await actor(request), request.path_params["task_id"]))


async def ready(request: Request) -> JSONResponse:
    return respond(await kitchen.mark_ready(services(request), await actor(request), request.path_params["task_id"]))


async def served(request: Request) -> JSONResponse:
    return respond(await kitchen.serve_task(services(request), await actor(request), request.path_params["task_id"]))


async def recall(request: Request) -> JSONResponse:
    return respond(await kitchen.recall_task(services(request), await actor(request), request.path_params["task_id"]))


routes = [
    Route("/api/cafe/kitchen/tasks/", task_list, methods=["GET"], name="kitchen-tasks"),
    Route("/api/cafe/kitchen/tasks/{task_id}/", Task, methods=["GET", "PATCH"], name="kitchen-task"),
    Route("/api/cafe/kitchen/tasks/{task_id}/claim/", claim, methods=["POST"], name="kitchen-task-claim"),
    Route("/api/cafe/kitchen/tasks/{task_id}/ready/", ready, methods=["POST"], name="kitchen-task-ready"),
    Route("/api/cafe/kitchen/tasks/{task_id}/served/", served, methods=["POST"], name="kitchen-task-served"),
    Route("/api/cafe/kitchen/tasks/{task_id}/recall/", recall, methods=["POST"], name="kitchen-task-recall"),
]
