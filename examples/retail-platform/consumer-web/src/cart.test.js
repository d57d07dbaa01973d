import { describe, expect, it } from "vitest";

import { addToCart, cartTotal, formatPrice } from "./cart.js";

describe("cart", () => {
  const tote = { sku: "RA-1001", name: "Canvas tote", priceCents: 2400 };
  const mug = { sku: "RA-1002", name: "Enamel mug", priceCents: 1250 };

  it("adds a product once per line and counts repeats", () => {
    const cart = addToCart(addToCart(addToCart([], tote), mug), tote);
    expect(cart.map((line) => [line.sku, line.quantity])).toEqual([["RA-1001", 2], ["RA-1002", 1]]);
    expect(cartTotal(cart)).toBe(6050);
  });

  it("formats cents as dollars", () => {
    expect(formatPrice(6050)).toBe("$60.50");
    expect(formatPrice(5)).toBe("$0.05");
    expect(() => formatPrice(-1)).toThrow(RangeError);
  });
});
