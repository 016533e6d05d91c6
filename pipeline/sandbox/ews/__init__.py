"""The sandbox's EWS face: SOAP over HTTP at /EWS/Exchange.asmx, validated against Microsoft's schema, each
operation a module of `operations/` over the one store."""
