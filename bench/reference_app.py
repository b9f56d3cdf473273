"""The reference: a minimal FastAPI + Mangum app returning a constant JSON."""

from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/constant")
def constant() -> dict[str, str]:
    return {"status": "ok"}


handler = Mangum(app, lifespan="off")
