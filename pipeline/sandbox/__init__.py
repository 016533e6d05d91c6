"""The sandbox: a stateful local Exchange stand-in over real HTTP that behaves like Exchange for this pipeline.

Two faces over one store: ews/ (SOAP at /EWS/Exchange.asmx) and graph/ (Microsoft Graph), both served by
server.py on one port, both reading and writing store.py. It shares no code with pipeline/destination or
pipeline/convert: it agrees with our clients only on the wire. The layout is in its README.
"""
