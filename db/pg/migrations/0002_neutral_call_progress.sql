-- Call progress is carrier-neutral (src/domain/call-status.ts): Twilio's
-- queued/initiated become initiated, in-progress becomes answered.
UPDATE calls SET carrier_status = 'initiated' WHERE carrier_status = 'queued';--> statement-breakpoint
UPDATE calls SET carrier_status = 'answered' WHERE carrier_status = 'in-progress';
