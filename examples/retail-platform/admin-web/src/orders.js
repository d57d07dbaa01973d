// The back office's order summary: pure functions, so vitest checks them without a browser.

export const STATUSES = ["pending", "paid", "shipped", "cancelled"];

/** Orders [{id, status}] counted per status, every status present (0 when none). */
export function countByStatus(orders) {
  const counts = Object.fromEntries(STATUSES.map((status) => [status, 0]));
  for (const order of orders) {
    if (!(order.status in counts)) {
      throw new Error(`order ${order.id} has an unknown status: ${order.status}`);
    }
    counts[order.status] += 1;
  }
  return counts;
}

/** Orders that still need someone: paid but not shipped, oldest first. */
export function toShip(orders) {
  return orders.filter((order) => order.status === "paid").sort((a, b) => a.placedAt.localeCompare(b.placedAt));
}
