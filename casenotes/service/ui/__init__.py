"""The review UI under /ui: server-rendered pages over the same calls, access rules and
audit rows as the JSON API.

Every page that shows a client's notes or results calls the API's own route function
(`get_record`, `get_note`, `flag_queue`, `search`, the two reviews), so the UI cannot
see more than the API would show the same token, and it leaves the same audit rows.

Sign-in checks the token once and puts a new session's random id (never the token) in an
HTTP-only, SameSite=strict cookie (the API reads the same cookie); sign-out revokes the
session. State-changing requests (every POST but sign-in) carry a CSRF token,
an HMAC of the session id that only pages of this site can read, and are refused
when the browser says they came from another site (`Sec-Fetch-Site`, else `Origin`).
"""

from casenotes.service.ui.pages import mount_ui, router

__all__ = ["mount_ui", "router"]
