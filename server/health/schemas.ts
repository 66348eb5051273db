// The health check's answer, as a zod schema for the OpenAPI document.
import { z } from 'zod';
import { named, responseDocs } from '../core/api-docs.js';

export const healthSchema = named(responseDocs, z.strictObject({ status: z.literal('ok') }), 'Health', 'The daemon and its database answer.');

export const readinessSchema = named(responseDocs, z.strictObject({ status: z.literal('ready') }), 'Readiness', 'The daemon is ready for traffic: its database answers and has every migration, and on PostgreSQL its LISTEN connection is up.');
