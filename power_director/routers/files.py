"""A session's files: the list (with sizes and SHA-1), one file, or the whole folder as .tar.gz."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from power_director.api import FileEntry, FileList
from power_director.artifacts.files import InvalidPath, UnsafePath, list_files, resolve_inside, write_archive
from power_director.auth import require_token
from power_director.deps import DirectorDep
from power_director.errors import BadRequest, NotFound

router = APIRouter(prefix="/sessions", tags=["files"], dependencies=[Depends(require_token)])


@router.get("/{session_id}/files", response_model=FileList)
def get_files(session_id: str, director: DirectorDep) -> FileList:
    folder = director.session_folder(session_id)
    entries = [FileEntry(path=path, size=size, sha1=sha1) for path, size, sha1 in list_files(folder)]
    return FileList(session_id=session_id, files=entries)


@router.get("/{session_id}/files/{path:path}", response_class=FileResponse)
def get_file(session_id: str, path: str, director: DirectorDep) -> FileResponse:
    folder = director.session_folder(session_id)
    try:
        target = resolve_inside(folder, path)
    except InvalidPath as error:
        raise BadRequest(str(error)) from None
    except UnsafePath as error:
        raise NotFound(str(error)) from None
    return FileResponse(target, media_type="application/octet-stream")


@router.get("/{session_id}/archive", response_class=FileResponse)
def get_archive(session_id: str, director: DirectorDep) -> FileResponse:
    folder = director.session_folder(session_id)
    archive = write_archive(folder, session_id)
    return FileResponse(
        archive,
        media_type="application/gzip",
        filename=f"{session_id}.tar.gz",
        background=BackgroundTask(archive.unlink),
    )
