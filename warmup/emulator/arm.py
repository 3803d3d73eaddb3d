"""The Azure Resource Manager routes that warmup's ops commands call, as ACS's resource
provider answers them (shapes of the 2025-09-01 API, as azure-mgmt-communication reads them):

    .../emailServices/{es}/domains/{domain}                          GET: verification states
    .../emailServices/{es}/domains/{domain}/senderUsernames[/{name}] GET (list), PUT, DELETE
    .../communicationServices/{cs}/smtpUsernames[/{name}]            GET (list), PUT, DELETE

Served over TLS (the SDK sends bearer tokens over https only) from the emulator's local CA.
Any bearer token is accepted unless ``arm_token`` is set; ``arm_forbidden`` answers 403 as a
missing role assignment does; a path naming another subscription, resource group or service
answers 404 as ARM does. SMTP usernames made here authenticate at the SMTP listener with the
client secret of their Entra app (``entra_apps``).
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from aiohttp import web

from warmup.emulator.config import ArmDomain, EmulatorConfig
from warmup.emulator.core import Emulator

PROVIDER = "Microsoft.Communication"
LISTS_TYPE = f"{PROVIDER.lower()}/emailservices/domains/suppressionlists"
API_VERSIONS = frozenset({"2023-03-31", "2023-04-01", "2025-05-01", "2025-09-01"})


def arm_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _base(config: EmulatorConfig) -> str:
    return (
        f"/subscriptions/{config.arm_subscription}/resourceGroups/{config.arm_resource_group}"
        f"/providers/{PROVIDER}"
    )


def _check(request: web.Request, config: EmulatorConfig) -> web.Response | None:
    """401, 403, 400 (api-version) or 404 (another subscription/group/service), or None."""
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    expected = config.arm_token.get_secret_value() if config.arm_token else None
    if not token or (expected is not None and not hmac.compare_digest(token, expected)):
        return arm_error(401, "InvalidAuthenticationToken", "The access token is invalid.")
    if config.arm_forbidden:
        return arm_error(
            403,
            "AuthorizationFailed",
            "The client does not have authorization to perform action "
            f"'{PROVIDER}/{request.method.lower()}' over scope '{request.path}'.",
        )
    if request.query.get("api-version") not in API_VERSIONS:
        return arm_error(400, "InvalidApiVersionParameter", "The api-version is not supported.")
    info = request.match_info
    if info["subscription"] != config.arm_subscription:
        return arm_error(
            404,
            "SubscriptionNotFound",
            f"The subscription '{info['subscription']}' could not be found.",
        )
    if info["group"].lower() != config.arm_resource_group.lower():
        return arm_error(
            404, "ResourceGroupNotFound", f"Resource group '{info['group']}' could not be found."
        )
    service = info.get("email_service") or info.get("communication_service")
    known = {config.arm_email_service.lower(), config.arm_communication_service.lower()}
    if service is not None and service.lower() not in known:
        return arm_error(404, "ResourceNotFound", f"The resource '{service}' was not found.")
    return None


def _domain(config: EmulatorConfig, name: str) -> dict[str, Any] | None:
    domain = config.arm_domains.get(name.lower())
    if domain is None and name.lower() in config.sender_domains:
        domain = ArmDomain()  # a linked sender domain: verified, unless said otherwise
    if domain is None:
        return None
    return {
        "id": f"{_base(config)}/emailServices/{config.arm_email_service}/domains/{name}",
        "name": name,
        "type": f"{PROVIDER}/emailServices/Domains",
        "location": "global",
        "properties": {
            "provisioningState": "Succeeded",
            "dataLocation": "United States",
            "fromSenderDomain": name,
            "mailFromSenderDomain": name,
            "domainManagement": domain.management,
            "userEngagementTracking": "Enabled" if domain.engagement_tracking else "Disabled",
            "verificationStates": {
                record: {"status": status} for record, status in domain.verification.items()
            },
        },
    }


class ArmRoutes:
    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self.state = emulator.arm_state

    def routes(self) -> list[web.RouteDef]:
        base = "/subscriptions/{subscription}/resourceGroups/{group}/providers/" + PROVIDER
        domain = base + "/emailServices/{email_service}/domains/{domain}"
        smtp = base + "/communicationServices/{communication_service}/smtpUsernames"
        lists = domain + "/suppressionLists"
        addresses = lists + "/{list}/suppressionListAddresses"
        return [
            web.get(lists, self.list_lists),
            web.get(lists + "/{list}", self.get_list),
            web.put(lists + "/{list}", self.put_list),
            web.get(addresses, self.list_addresses),
            web.get(addresses + "/{address}", self.get_address),
            web.put(addresses + "/{address}", self.put_address),
            web.delete(addresses + "/{address}", self.delete_address),
            web.get(domain, self.get_domain),
            web.get(domain + "/senderUsernames", self.list_senders),
            web.get(domain + "/senderUsernames/{name}", self.get_sender),
            web.put(domain + "/senderUsernames/{name}", self.put_sender),
            web.delete(domain + "/senderUsernames/{name}", self.delete_sender),
            web.get(smtp, self.list_smtp),
            web.get(smtp + "/{name}", self.get_smtp),
            web.put(smtp + "/{name}", self.put_smtp),
            web.delete(smtp + "/{name}", self.delete_smtp),
        ]

    def _guard(self, request: web.Request) -> tuple[EmulatorConfig, web.Response | None]:
        config = self._emulator.config
        self.state.calls += 1
        return config, _check(request, config)

    # --- domains and sender usernames -------------------------------------------------------

    async def get_domain(self, request: web.Request) -> web.Response:
        config, refused = self._guard(request)
        if refused is not None:
            return refused
        found = _domain(config, request.match_info["domain"])
        if found is None:
            return arm_error(404, "ResourceNotFound", "The domain was not found.")
        return web.json_response(found)

    def _sender_body(self, config: EmulatorConfig, domain: str, name: str) -> dict[str, Any]:
        entry = self.state.senders[domain.lower()][name.lower()]
        return {
            "id": f"{_base(config)}/emailServices/{config.arm_email_service}/domains/{domain}"
            f"/senderUsernames/{name}",
            "name": name,
            "type": f"{PROVIDER.lower()}/emailservices/domains/senderusernames",
            "properties": {
                "dataLocation": "United States",
                "username": entry["username"],
                "displayName": entry.get("displayName", ""),
                "provisioningState": "Succeeded",
            },
        }

    def _domain_or_404(
        self, request: web.Request
    ) -> tuple[EmulatorConfig, str, web.Response | None]:
        config, refused = self._guard(request)
        domain = request.match_info["domain"]
        if refused is None and _domain(config, domain) is None:
            refused = arm_error(404, "ResourceNotFound", f"The domain '{domain}' was not found.")
        return config, domain, refused

    async def list_senders(self, request: web.Request) -> web.Response:
        config, domain, refused = self._domain_or_404(request)
        if refused is not None:
            return refused
        names = self.state.senders.get(domain.lower(), {})
        return web.json_response(
            {"value": [self._sender_body(config, domain, n) for n in sorted(names)]}
        )

    async def get_sender(self, request: web.Request) -> web.Response:
        config, domain, refused = self._domain_or_404(request)
        if refused is not None:
            return refused
        name = request.match_info["name"]
        if name.lower() not in self.state.senders.get(domain.lower(), {}):
            return arm_error(
                404, "ResourceNotFound", f"The sender username '{name}' was not found."
            )
        return web.json_response(self._sender_body(config, domain, name))

    async def put_sender(self, request: web.Request) -> web.Response:
        config, domain, refused = self._domain_or_404(request)
        if refused is not None:
            return refused
        body = await _json(request)
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict) or not isinstance(properties.get("username"), str):
            return arm_error(400, "InvalidRequestContent", "properties.username is required.")
        name = request.match_info["name"]
        senders = self.state.senders.setdefault(domain.lower(), {})
        created = name.lower() not in senders
        senders[name.lower()] = {
            "username": properties["username"],
            "displayName": properties.get("displayName") or "",
        }
        return web.json_response(
            self._sender_body(config, domain, name), status=201 if created else 200
        )

    async def delete_sender(self, request: web.Request) -> web.Response:
        _, domain, refused = self._domain_or_404(request)
        if refused is not None:
            return refused
        gone = self.state.senders.get(domain.lower(), {}).pop(
            request.match_info["name"].lower(), None
        )
        return web.Response(status=200 if gone is not None else 204)

    # --- suppression lists ------------------------------------------------------------------

    def _list_body(self, config: EmulatorConfig, domain: str, name: str) -> dict[str, Any]:
        entry = self.state.suppression_lists[domain.lower()][name.lower()]
        return {
            "id": f"{_base(config)}/emailServices/{config.arm_email_service}/domains/{domain}"
            f"/suppressionLists/{name}",
            "name": name,
            "type": LISTS_TYPE,
            "properties": dict(entry),
        }

    async def list_lists(self, request: web.Request) -> web.Response:
        config, domain, refused = self._domain_or_404(request)
        if refused is not None:
            return refused
        names = sorted(self.state.suppression_lists.get(domain.lower(), {}))
        return web.json_response({"value": [self._list_body(config, domain, n) for n in names]})

    def _list_or_404(
        self, request: web.Request
    ) -> tuple[EmulatorConfig, str, str, web.Response | None]:
        config, domain, refused = self._domain_or_404(request)
        name = request.match_info["list"]
        if refused is None and name.lower() not in self.state.suppression_lists.get(
            domain.lower(), {}
        ):
            refused = arm_error(
                404, "ResourceNotFound", f"The suppression list {name} was not found."
            )
        return config, domain, name, refused

    async def get_list(self, request: web.Request) -> web.Response:
        config, domain, name, refused = self._list_or_404(request)
        if refused is not None:
            return refused
        return web.json_response(self._list_body(config, domain, name))

    async def put_list(self, request: web.Request) -> web.Response:
        config, domain, refused = self._domain_or_404(request)
        if refused is not None:
            return refused
        body = await _json(request)
        properties = body.get("properties") if isinstance(body, dict) else None
        name = request.match_info["list"]
        lists = self.state.suppression_lists.setdefault(domain.lower(), {})
        created = name.lower() not in lists
        stamp = self._emulator.wall_time().isoformat()
        lists[name.lower()] = {
            "listName": (properties or {}).get("listName") or name,
            "createdTimeStamp": lists.get(name.lower(), {}).get("createdTimeStamp", stamp),
            "lastUpdatedTimeStamp": stamp,
            "dataLocation": "United States",
        }
        self.state.writes += 1  # ARM counts every PUT against the write budget, changed or not
        return web.json_response(
            self._list_body(config, domain, name), status=201 if created else 200
        )

    def _address_body(
        self, config: EmulatorConfig, domain: str, name: str, address_id: str
    ) -> dict[str, Any]:
        entry = self.state.suppressed[(domain.lower(), name.lower())][address_id.lower()]
        return {
            "id": f"{_base(config)}/emailServices/{config.arm_email_service}/domains/{domain}"
            f"/suppressionLists/{name}/suppressionListAddresses/{address_id}",
            "name": address_id,
            "type": f"{LISTS_TYPE}/suppressionlistaddresses",
            "properties": dict(entry),
        }

    async def list_addresses(self, request: web.Request) -> web.Response:
        config, domain, name, refused = self._list_or_404(request)
        if refused is not None:
            return refused
        found = self.state.suppressed.get((domain.lower(), name.lower()), {})
        return web.json_response(
            {"value": [self._address_body(config, domain, name, a) for a in sorted(found)]}
        )

    async def get_address(self, request: web.Request) -> web.Response:
        config, domain, name, refused = self._list_or_404(request)
        if refused is not None:
            return refused
        address_id = request.match_info["address"]
        if address_id.lower() not in self.state.suppressed.get((domain.lower(), name.lower()), {}):
            return arm_error(404, "ResourceNotFound", "The address was not found.")
        return web.json_response(self._address_body(config, domain, name, address_id))

    async def put_address(self, request: web.Request) -> web.Response:
        config, domain, name, refused = self._list_or_404(request)
        if refused is not None:
            return refused
        body = await _json(request)
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict) or not isinstance(properties.get("email"), str):
            return arm_error(400, "InvalidRequestContent", "properties.email is required.")
        address_id = request.match_info["address"].lower()
        found = self.state.suppressed.setdefault((domain.lower(), name.lower()), {})
        entry = {
            "email": properties["email"],
            "notes": properties.get("notes") or "",
            "lastModified": self._emulator.wall_time().isoformat(),
            "dataLocation": "United States",
        }
        created = address_id not in found
        changed = created or {k: found[address_id].get(k) for k in ("email", "notes")} != {
            k: entry[k] for k in ("email", "notes")
        }
        if changed:
            found[address_id] = entry
            self.state.writes += 1
        return web.json_response(
            self._address_body(config, domain, name, address_id), status=201 if created else 200
        )

    async def delete_address(self, request: web.Request) -> web.Response:
        _, domain, name, refused = self._list_or_404(request)
        if refused is not None:
            return refused
        found = self.state.suppressed.get((domain.lower(), name.lower()), {})
        gone = found.pop(request.match_info["address"].lower(), None)
        self.state.writes += gone is not None
        return web.Response(status=200 if gone is not None else 204)

    # --- SMTP usernames ---------------------------------------------------------------------

    def _smtp_body(self, config: EmulatorConfig, name: str) -> dict[str, Any]:
        entry = self.state.smtp_usernames[name.lower()]
        return {
            "id": f"{_base(config)}/communicationServices/{config.arm_communication_service}"
            f"/smtpUsernames/{name}",
            "name": name,
            "type": f"{PROVIDER.lower()}/communicationservices/smtpusernames",
            "properties": dict(entry),
        }

    async def list_smtp(self, request: web.Request) -> web.Response:
        config, refused = self._guard(request)
        if refused is not None:
            return refused
        names = sorted(self.state.smtp_usernames)
        return web.json_response({"value": [self._smtp_body(config, n) for n in names]})

    async def get_smtp(self, request: web.Request) -> web.Response:
        config, refused = self._guard(request)
        if refused is not None:
            return refused
        name = request.match_info["name"]
        if name.lower() not in self.state.smtp_usernames:
            return arm_error(404, "ResourceNotFound", f"The SMTP username '{name}' was not found.")
        return web.json_response(self._smtp_body(config, name))

    async def put_smtp(self, request: web.Request) -> web.Response:
        config, refused = self._guard(request)
        if refused is not None:
            return refused
        body = await _json(request)
        properties = body.get("properties") if isinstance(body, dict) else None
        needed = ("username", "entraApplicationId", "tenantId")
        if not isinstance(properties, dict) or not all(
            isinstance(properties.get(k), str) and properties[k] for k in needed
        ):
            return arm_error(
                400,
                "InvalidRequestContent",
                "properties.username, entraApplicationId and tenantId are required.",
            )
        name = request.match_info["name"]
        created = name.lower() not in self.state.smtp_usernames
        self.state.smtp_usernames[name.lower()] = {k: properties[k] for k in needed}
        return web.json_response(self._smtp_body(config, name), status=201 if created else 200)

    async def delete_smtp(self, request: web.Request) -> web.Response:
        _, refused = self._guard(request)
        if refused is not None:
            return refused
        gone = self.state.smtp_usernames.pop(request.match_info["name"].lower(), None)
        return web.Response(status=200 if gone is not None else 204)


async def _json(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
