// The health check's answer, as a zod schema for the OpenAPI document.
import { z } from 'zod';
import { named, responseDocs } from '../core/api-docs.js';

export const healthSchema = named(responseDocs, z.strictObject({ status: z.literal('ok') }), 'Health', 'The daemon and its database answer.');
