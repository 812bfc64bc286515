"""`GET /v1/time`: the director's clock when the request arrived and when the reply left."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from power_director.api import PhaseStamp, TimeReply

router = APIRouter(tags=["time"])


@router.get("/time", response_model=TimeReply)
async def get_time(request: Request) -> TimeReply:
    # The receive stamp is the outermost middleware's, taken before routing, so the time the director
    # spends inside the request is inside [receive, transmit] and not mistaken for network delay.
    # async: answered on the event loop, without a hop to the thread pool.
    arrived = getattr(request.state, "arrived", None)
    receive_ns = arrived.wall_ns if isinstance(arrived, PhaseStamp) else time.time_ns()
    return TimeReply(receive_ns=receive_ns, transmit_ns=time.time_ns())
