"""SSH message numbers (RFC 4250 section 4.1, RFC 4253, 4252, 4254, 8308) and the protocol
states of a connection: declared once here, used by name everywhere else.

The core's states move only along :data:`TRANSITIONS`::

    version -> kex -> service -> auth -> open -> closed    (a server skips nothing: the same)

``kex`` is the first key exchange; later exchanges (rekeying) run inside ``service``,
``auth`` and ``open`` without leaving them.  Any state may go to ``closed``.
"""

import enum
from typing import Dict, FrozenSet

# transport layer generic (RFC 4253)
MSG_DISCONNECT = 1
MSG_IGNORE = 2
MSG_UNIMPLEMENTED = 3
MSG_DEBUG = 4
MSG_SERVICE_REQUEST = 5
MSG_SERVICE_ACCEPT = 6
MSG_EXT_INFO = 7                                  # RFC 8308
# algorithm negotiation
MSG_KEXINIT = 20
MSG_NEWKEYS = 21
# key exchange method specific (reused by each method)
MSG_KEX_ECDH_INIT = MSG_KEXDH_INIT = 30
MSG_KEX_ECDH_REPLY = MSG_KEXDH_REPLY = MSG_KEX_DH_GEX_GROUP = 31
MSG_KEX_DH_GEX_INIT = 32
MSG_KEX_DH_GEX_REPLY = 33
MSG_KEX_DH_GEX_REQUEST = 34
KEX_METHOD_MESSAGES = range(30, 50)
# user authentication (RFC 4252, RFC 4256)
MSG_USERAUTH_REQUEST = 50
MSG_USERAUTH_FAILURE = 51
MSG_USERAUTH_SUCCESS = 52
MSG_USERAUTH_BANNER = 53
MSG_USERAUTH_INFO_REQUEST = 60                    # also PK_OK and PASSWD_CHANGEREQ, by method
MSG_USERAUTH_PK_OK = MSG_USERAUTH_PASSWD_CHANGEREQ = MSG_USERAUTH_INFO_REQUEST
MSG_USERAUTH_INFO_RESPONSE = 61
# connection protocol (RFC 4254)
MSG_GLOBAL_REQUEST = 80
MSG_REQUEST_SUCCESS = 81
MSG_REQUEST_FAILURE = 82
MSG_CHANNEL_OPEN = 90
MSG_CHANNEL_OPEN_CONFIRMATION = 91
MSG_CHANNEL_OPEN_FAILURE = 92
MSG_CHANNEL_WINDOW_ADJUST = 93
MSG_CHANNEL_DATA = 94
MSG_CHANNEL_EXTENDED_DATA = 95
MSG_CHANNEL_EOF = 96
MSG_CHANNEL_CLOSE = 97
MSG_CHANNEL_REQUEST = 98
MSG_CHANNEL_SUCCESS = 99
MSG_CHANNEL_FAILURE = 100
CONNECTION_MESSAGES = range(80, 101)


class State(str, enum.Enum):
    """A connection core's state; compares equal to its name (``State.OPEN == "open"``)."""

    VERSION = "version"   # waiting for the peer's version line
    KEX = "kex"           # the first key exchange
    SERVICE = "service"   # the ssh-userauth service requested (client) or awaited (server)
    AUTH = "auth"         # user authentication
    OPEN = "open"         # the connection protocol: channels and global requests
    CLOSED = "closed"     # DISCONNECT sent or received, or the peer gone

    def __str__(self) -> str:
        return self.value


#: the states each state may move to (every state may close)
TRANSITIONS: Dict[State, FrozenSet[State]] = {
    State.VERSION: frozenset({State.KEX, State.CLOSED}),
    State.KEX: frozenset({State.SERVICE, State.CLOSED}),
    State.SERVICE: frozenset({State.AUTH, State.CLOSED}),
    State.AUTH: frozenset({State.OPEN, State.CLOSED}),
    State.OPEN: frozenset({State.CLOSED}),
    State.CLOSED: frozenset({State.CLOSED}),
}
