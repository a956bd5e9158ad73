"""TLS with certificate checks, always (DESIGN §5.6). A CA file replaces the system store."""

from __future__ import annotations

import os
import ssl

from pecmass_xl.campaign.settings import Settings


def client_context(settings: Settings) -> ssl.SSLContext:
    ca_env = os.environ.get("PECMASS_CA_FILE")
    cafile = ca_env or (str(settings.ca_file) if settings.ca_file else None)
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context
