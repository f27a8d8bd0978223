// Public exports of the http layer (wirekit/http).
export {}
