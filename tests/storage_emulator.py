"""A local Cloud Storage emulator for the gs:// tests (gcp-storage-emulator on 127.0.0.1):
run as `python tests/storage_emulator.py PORT BUCKET`; it serves until killed.

One gap of the emulator is filled here, as real Cloud Storage behaves: media downloads carry
the object's generation in the x-goog-generation header, which tensorstore (orbax's array
storage) reads to know which version of an OCDBT manifest it holds ("Malformed
StorageGeneration" without it)."""

import sys
import time

from gcp_storage_emulator import server as emulator_server
from gcp_storage_emulator.handlers import objects

_download = objects.download


def download_with_generation(request, response, storage, *args, **kwargs):
    _download(request, response, storage, *args, **kwargs)
    try:
        obj = storage.get_file_obj(request.params["bucket_name"], request.params["object_id"])
    except Exception:  # noqa: BLE001 (not found: the download answered 404 already)
        return
    response["x-goog-generation"] = obj["generation"]
    response["x-goog-metageneration"] = obj["metageneration"]


def serve(port: int, bucket: str) -> None:
    objects.download = download_with_generation  # objects.get calls it by name
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
