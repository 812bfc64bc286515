"""Shared state as a dependency: the `Director` the app was created with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from power_director.director import Director


def get_director(request: Request) -> Director:
    director: Director = request.app.state.director
    return director


DirectorDep = Annotated[Director, Depends(get_director)]
