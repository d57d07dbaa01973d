import { describe, expect, it } from "vitest";

import { countByStatus, toShip } from "./orders.js";

describe("orders", () => {
  const orders = [
    { id: "A-17", status: "paid", placedAt: "2025-01-15T09:30:00Z" },
    { id: "A-12", status: "paid", placedAt: "2025-01-14T16:05:00Z" },
    { id: "A-09", status: "shipped", placedAt: "2025-01-13T11:00:00Z" },
  ];

  it("counts every status, zero included", () => {
    expect(countByStatus(orders)).toEqual({ pending: 0, paid: 2, shipped: 1, cancelled: 0 });
  });

  it("refuses an unknown status instead of miscounting", () => {
    expect(() => countByStatus([{ id: "X", status: "lost" }])).toThrow("order X has an unknown status: lost");
  });

  it("lists paid orders to ship, oldest first", () => {
    expect(toShip(orders).map((order) => order.id)).toEqual(["A-12", "A-17"]);
  });
});
