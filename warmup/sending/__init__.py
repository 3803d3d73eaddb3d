"""Talking to ACS Email: client construction (``client``), error classification (``classify``),
retry policy (``retry``), the REST and SMTP senders (``sender``, ``smtp``).

Nothing is imported here: a light part of the package (the transport names, the wire
protocol) must not load aiohttp and the Azure SDK, which every CLI command would otherwise pay
for at start-up. Import from the modules.
"""
