"""A local Cloud Storage emulator for the gs:// tests (gcp-storage-emulator on 127.0.0.1):
run as `python tests/storage_emulator.py PORT BUCKET`; it serves until killed.

Two gaps of the emulator are filled here, as real Cloud Storage behaves:
- media downloads carry the object's generation in the x-goog-generation header, which
  tensorstore (orbax's array storage) reads to know which version of an OCDBT manifest it
  holds ("Malformed StorageGeneration" without it);
- objects.move (POST .../o/OBJECT/moveTo/o/DESTINATION), which gcsfs renames with: the
  emulator drops the connection, and gcsfs logs a traceback per object before it falls back
  to copy and delete."""

import sys
import time
from http import HTTPStatus

from gcp_storage_emulator import server as emulator_server
from gcp_storage_emulator import settings
from gcp_storage_emulator.handlers import objects

MOVE = (
    rf"^{settings.API_ENDPOINT}/b/(?P<bucket_name>[-.\w]+)/o/(?P<object_id>.*[^/]+)"
    r"/moveTo/o/(?P<dest_object_id>.*[^/]+)$"
)

_download = objects.download


def download_with_generation(request, response, storage, *args, **kwargs):
    _download(request, response, storage, *args, **kwargs)
    try:
        obj = storage.get_file_obj(request.params["bucket_name"], request.params["object_id"])
    except Exception:  # noqa: BLE001 (not found: the download answered 404 already)
        return
    response["x-goog-generation"] = obj["generation"]
    response["x-goog-metageneration"] = obj["metageneration"]


def move(request, response, storage, *args, **kwargs):
    """objects.move within a bucket: the object under its new name, answered with the new
    object's resource, and gone under its old one."""
    request.params["dest_bucket_name"] = request.params["bucket_name"]
    objects.copy(request, response, storage)
    if response.status == HTTPStatus.OK:
        storage.delete_file(request.params["bucket_name"], request.params["object_id"])


def serve(port: int, bucket: str) -> None:
    objects.download = download_with_generation  # objects.get calls it by name
    # Before the object route, whose pattern also matches a moveTo path.
    emulator_server.HANDLERS = ((MOVE, {emulator_server.POST: move}), *emulator_server.HANDLERS)
    for _, handlers in emulator_server.HANDLERS:
        for method, handler in handlers.items():
            if handler is _download:
                handlers[method] = download_with_generation
    emulator_server.create_server("127.0.0.1", port, in_memory=True, default_bucket=bucket).start()
    print("serving", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
