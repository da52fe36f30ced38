import { randomUUID } from 'node:crypto';
import { HttpError } from '../http/json-server.js';
import { requireString, type Route } from './provider.js';

/** Payment gateway: charges and refunds. A payment method token containing "decline" is declined. */
export const paymentRoute: Route = async (req) => {
  if (req.method === 'POST' && req.path === '/charges') {
    const orderId = requireString(req.body, 'orderId');
    const amountCents = Number(req.body.amountCents);
    if (!Number.isInteger(amountCents) || amountCents <= 0)
      throw new HttpError(400, { error: 'invalid_request', field: 'amountCents' });
    const method = JSON.stringify(req.body.method ?? '');
    if (method.includes('decline')) {
      return {
        status: 402,
        body: { chargeId: null, orderId, status: 'declined', amountCents, reason: 'card_declined' },
        ledger: { kind: 'decline', orderId, data: { amountCents } },
      };
    }
    const chargeId = `ch_${randomUUID()}`;
    return {
      status: 201,
      body: { chargeId, orderId, status: 'captured', amountCents },
      ledger: { kind: 'charge', orderId, data: { chargeId, amountCents } },
    };
  }
  if (req.method === 'POST' && req.path === '/refunds') {
    const orderId = requireString(req.body, 'orderId');
    const refundId = `re_${randomUUID()}`;
    const amountCents = Number(req.body.amountCents ?? 0);
    return {
      status: 201,
      body: { refundId, orderId, chargeId: req.body.chargeId ?? null, amountCents, status: 'refunded' },
      ledger: { kind: 'refund', orderId, data: { refundId, amountCents } },
    };
  }
  throw new HttpError(404, { error: 'not_found' });
};

export const shippingRoute: Route = async (req) => {
  if (req.method === 'POST' && req.path === '/labels') {
    const orderId = requireString(req.body, 'orderId');
    const labelId = `lb_${randomUUID()}`;
    const trackingNumber = `TRK${Date.now().toString(36).toUpperCase()}${Math.floor(Math.random() * 1e6)}`;
    return {
      status: 201,
      body: { labelId, orderId, trackingNumber },
      ledger: { kind: 'label', orderId, data: { labelId, trackingNumber } },
    };
  }
  // Voids an order's label (shipping voids it when the order was cancelled during the label call).
  if (req.method === 'POST' && req.path === '/labels/void') {
    const orderId = requireString(req.body, 'orderId');
    const labelId = typeof req.body.labelId === 'string' ? req.body.labelId : null;
    return {
      status: 200,
      body: { orderId, labelId, status: 'voided' },
      ledger: { kind: 'void', orderId, data: { labelId } },
    };
  }
  throw new HttpError(404, { error: 'not_found' });
};

export const emailRoute: Route = async (req) => {
  if (req.method === 'POST' && req.path === '/messages') {
    const to = requireString(req.body, 'to');
    const template = requireString(req.body, 'template');
    const orderId = typeof req.body.orderId === 'string' ? req.body.orderId : undefined;
    const messageId = `msg_${randomUUID()}`;
    return {
      status: 202,
      body: { messageId },
      ledger: { kind: 'email', ...(orderId ? { orderId } : {}), data: { to, template, messageId } },
    };
  }
  throw new HttpError(404, { error: 'not_found' });
};

/** The partner's webhook receiver: any path under /hooks/. */
export const webhookRoute: Route = async (req) => {
  if (req.method === 'POST' && req.path.startsWith('/hooks/')) {
    const deliveryId = `dl_${randomUUID()}`;
    const orderId = typeof req.body.orderId === 'string' ? req.body.orderId : undefined;
    return {
      status: 200,
      body: { deliveryId },
      ledger: {
        kind: 'delivery',
        ...(orderId ? { orderId } : {}),
        data: { path: req.path, deliveryId, event: req.body.event ?? null },
      },
    };
  }
  throw new HttpError(404, { error: 'not_found' });
};
