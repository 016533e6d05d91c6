"""The sandbox: a stateful local EWS server over real HTTP that behaves like Exchange for this pipeline.

It shares no code with pipeline/destination/ews or pipeline/convert: it agrees with our client only on the wire.
"""
