import type { WebhookDeliveryStatus } from '../../db/schema.ts';

/** Whose endpoints: an organisation's, or the platform's own (organisationId null). */
export interface EndpointScope {
  organisationId: string | null;
}

/** An endpoint as its managers see it: never its secret after creation. */
export interface Endpoint {
  id: string;
  organisationId: string | null;
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  /** Since when every attempt has failed; null while it answers. */
  failingSince: Date | null;
  disabledReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One message to one endpoint, in the delivery log. */
export interface Delivery {
  id: number;
  eventId: string;
  type: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  responseStatus: number | null;
  responseBody: string | null;
  error: string | null;
  durationMs: number | null;
  attemptedAt: Date | null;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

/** A delivery a sender has claimed, with what it needs to send it. */
export interface DueDelivery {
  id: number;
  messageId: string;
  endpointId: string;
  subjectId: string;
  organisationId: string | null;
  attempts: number;
  body: string;
  url: string;
  /** Its endpoint had been failing when the delivery was claimed. */
  endpointFailing: boolean;
  secrets: string[];
}
