// The shop's cart arithmetic: pure functions, so vitest checks them without a browser.

/** Price in cents as the shop shows it: "$24.00". */
export function formatPrice(cents) {
  if (!Number.isInteger(cents) || cents < 0) {
    throw new RangeError(`price must be a whole, non-negative number of cents: ${cents}`);
  }
  return `$${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
}

/** Total of cart lines [{sku, priceCents, quantity}] in cents. */
export function cartTotal(lines) {
  return lines.reduce((sum, line) => sum + line.priceCents * line.quantity, 0);
}

/** The cart after adding one of `product` (a new line, or one more on its line). */
export function addToCart(lines, product) {
  const existing = lines.find((line) => line.sku === product.sku);
  if (existing) {
    return lines.map((line) => (line.sku === product.sku ? { ...line, quantity: line.quantity + 1 } : line));
  }
  return [...lines, { sku: product.sku, name: product.name, priceCents: product.priceCents, quantity: 1 }];
}
