/**
 * Conversions between the stored form of an experiment and the API's messages.
 */
import { create, fromJsonString, toJsonString } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  type Experiment,
  type ExperimentEvent,
  ExperimentEventSchema,
  ExperimentPhase,
  type ExperimentResults,
  ExperimentResultsSchema,
  ExperimentSchema,
  type ExperimentSpec,
  ExperimentSpecSchema,
} from '../../proto/gen/phoenix/v1/experiment_pb.js';
import type { PhaseName, StoredExperiment, StoredExperimentEvent } from './experiment-store.js';

const PHASES: Readonly<Record<PhaseName, ExperimentPhase>> = {
  draft: ExperimentPhase.DRAFT,
  running: ExperimentPhase.RUNNING,
  promoted: ExperimentPhase.PROMOTED,
  rolled_back: ExperimentPhase.ROLLED_BACK,
  stopped: ExperimentPhase.STOPPED,
};

export function phaseEnum(phase: PhaseName): ExperimentPhase {
  return PHASES[phase];
}

export function specToJson(spec: ExperimentSpec): string {
  return toJsonString(ExperimentSpecSchema, spec);
}

export function specFromJson(json: string): ExperimentSpec {
  return fromJsonString(ExperimentSpecSchema, json, { ignoreUnknownFields: true });
}

export function resultsToJson(results: ExperimentResults): string {
  return toJsonString(ExperimentResultsSchema, results);
}

function resultsFromJson(json: string): ExperimentResults {
  return fromJsonString(ExperimentResultsSchema, json, { ignoreUnknownFields: true });
}

/** The API shape; `live` results (of a running experiment) win over the stored ones. */
export function toExperimentMessage(
  stored: StoredExperiment,
  live: ExperimentResults | undefined,
): Experiment {
  const results =
    live ?? (stored.resultsJson === undefined ? undefined : resultsFromJson(stored.resultsJson));
  return create(ExperimentSchema, {
    spec: specFromJson(stored.specJson),
    phase: phaseEnum(stored.phase),
    baselineVersion: stored.baselineVersion,
    promotedVersion: stored.promotedVersion,
    createdBy: stored.createdBy,
    createdAt: timestampFromMs(stored.createdAtMs),
    ...(stored.startedAtMs === undefined ? {} : { startedAt: timestampFromMs(stored.startedAtMs) }),
    ...(stored.endedAtMs === undefined ? {} : { endedAt: timestampFromMs(stored.endedAtMs) }),
    decisionReason: stored.decisionReason,
    ...(results === undefined ? {} : { results }),
  });
}

export function toEventMessage(
  event: StoredExperimentEvent,
  results?: ExperimentResults,
): ExperimentEvent {
  return create(ExperimentEventSchema, {
    experiment: event.experiment,
    type: event.type,
    phase: phaseEnum(event.phase),
    actor: event.actor,
    reason: event.reason,
    at: timestampFromMs(event.atMs),
    ...(results === undefined ? {} : { results }),
  });
}
