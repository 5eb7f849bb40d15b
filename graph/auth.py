"""An example of LangGraph's custom auth for a served orchestrator: one bearer token.

A served orchestrator writes code into the workspaces under its roots: it must not be an
open endpoint. Enable this handler in ``langgraph.json``::

    "auth": {"path": "./graph/auth.py:auth"}

and set ``PHASEGRAPH_API_TOKEN`` in the server's environment (the deployment's secrets,
never the file). Clients then send ``Authorization: Bearer <token>``; any other request is
refused with 401 before it reaches a graph. Replace it with your identity provider's check
for more than one client (LangGraph's ``Auth`` docs).
"""

from __future__ import annotations

import hmac
import os

from langgraph_sdk import Auth

#: The server's environment variable that holds the one accepted token.
TOKEN_ENV = "PHASEGRAPH_API_TOKEN"

auth = Auth()


@auth.authenticate
async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
    """Admit a request whose bearer token is the server's ``PHASEGRAPH_API_TOKEN``."""
    expected = os.environ.get(TOKEN_ENV, "")
    if not expected:
        raise Auth.exceptions.HTTPException(
            status_code=503,
            detail=f"{TOKEN_ENV} is not set on the server: set it in the server's environment "
            "(or take the auth entry out of langgraph.json)",
        )
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Auth.exceptions.HTTPException(
            status_code=401,
            detail=f"missing or wrong token: send 'Authorization: Bearer <{TOKEN_ENV}>'",
        )
    return {"identity": "phasegraph-client"}
