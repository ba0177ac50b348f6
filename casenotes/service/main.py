"""The ASGI app uvicorn serves: `uvicorn casenotes.service.main:app`, settings from the environment.

Torch is kept out of an ONNX-backed server before the app (and spaCy) is imported, and the
access log is kept free of query strings however uvicorn was started."""

from casenotes.embed.encoder import keep_torch_out
from casenotes.service import access_log
from casenotes.service.settings import Settings

settings = Settings()
keep_torch_out(settings.encoder)
access_log.install()  # query strings (search text, filters) never reach the access log

from casenotes.service.app import create_app  # noqa: E402 - after torch is kept out

app = create_app(settings)
