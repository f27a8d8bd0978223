// Public exports of the messaging layer (wirekit/messaging).
export {}
