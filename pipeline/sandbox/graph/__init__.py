"""The sandbox's Graph face: the same store served as Microsoft Graph (`/v1.0/…`, `/beta/…importMime`).

app.py routes requests; tokens.py is the client-credentials token endpoint; throttle.py the per-mailbox
budgets (requests, concurrency, upload bytes) that answer 429 with Retry-After; metadata.py checks bodies
against Microsoft's v1.0 CSDL; extprops.py maps Graph extended-property ids onto the store's keys;
shapes.py renders rows as Graph JSON. Shares no code with pipeline/destination.
"""
