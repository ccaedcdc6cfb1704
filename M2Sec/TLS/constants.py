"""TLS Lite's protocol constants: alert levels and descriptions (RFC 8446 section 6, RFC 5054)."""

from typing import Dict, Tuple


class AlertLevel:
    """The level byte of a TLS alert."""

    warning = 1
    fatal = 2


class AlertDescription:
    """The description byte of a TLS alert, as the RFCs name them."""

    close_notify = 0
    unexpected_message = 10
    bad_record_mac = 20
    decryption_failed = 21
    record_overflow = 22
    decompression_failure = 30
    handshake_failure = 40
    no_certificate = 41
    bad_certificate = 42
    unsupported_certificate = 43
    certificate_revoked = 44
    certificate_expired = 45
    certificate_unknown = 46
    illegal_parameter = 47
    unknown_ca = 48
    access_denied = 49
    decode_error = 50
    decrypt_error = 51
    export_restriction = 60
    protocol_version = 70
    insufficient_security = 71
    internal_error = 80
    inappropriate_fallback = 86
    user_canceled = 90
    no_renegotiation = 100
    missing_extension = 109
    unsupported_extension = 110
    certificate_unobtainable = 111
    unrecognized_name = 112
    bad_certificate_status_response = 113
    bad_certificate_hash_value = 114
    unknown_psk_identity = 115
    certificate_required = 116
    no_application_protocol = 120

    @classmethod
    def toStr(cls, value: int) -> str:
        """The name of an alert description, or its number as text when unknown."""
        return _ALERT_NAMES.get(value, str(value))


_ALERT_NAMES: Dict[int, str] = {v: k for k, v in vars(AlertDescription).items()
                                if isinstance(v, int) and not k.startswith("_")}

class KeyUpdateMessageType:
    """The request_update byte of a TLS 1.3 KeyUpdate message (RFC 8446 section 4.6.3)."""

    update_not_requested = 0
    update_requested = 1


# TLS versions as TLS Lite writes them: (major, minor) of the record layer.
VERSION_NAMES: Dict[Tuple[int, int], str] = {(3, 0): "SSL 3.0", (3, 1): "TLS 1.0", (3, 2): "TLS 1.1",
                                   (3, 3): "TLS 1.2", (3, 4): "TLS 1.3"}
