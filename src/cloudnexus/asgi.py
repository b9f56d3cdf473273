"""The ASGI app for uvicorn (`cloudnexus serve`) and other ASGI servers."""

from cloudnexus.app import create_app
from cloudnexus.config import load_settings

app = create_app(load_settings())
