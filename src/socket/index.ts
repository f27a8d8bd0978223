// Public exports of the socket layer (wirekit/socket).
export {}
