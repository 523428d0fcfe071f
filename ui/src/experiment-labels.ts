/** Words for the experiment API's enums. */
import {
  ExperimentMode,
  ExperimentPhase,
  LiveVerdict,
  QueryVerdict,
} from '../../proto/gen/phoenix/v1/experiment_pb.js';

export const PHASE_LABELS: Readonly<Record<ExperimentPhase, string>> = {
  [ExperimentPhase.UNSPECIFIED]: 'unknown',
  [ExperimentPhase.DRAFT]: 'draft',
  [ExperimentPhase.RUNNING]: 'running',
  [ExperimentPhase.PROMOTED]: 'promoted',
  [ExperimentPhase.ROLLED_BACK]: 'rolled back',
  [ExperimentPhase.STOPPED]: 'stopped',
};

export const MODE_LABELS: Readonly<Record<ExperimentMode, string>> = {
  [ExperimentMode.UNSPECIFIED]: 'unknown',
  [ExperimentMode.SHADOW]: 'shadow',
  [ExperimentMode.SPLIT]: 'split',
};

export const VERDICT_LABELS: Readonly<Record<QueryVerdict, string>> = {
  [QueryVerdict.UNSPECIFIED]: 'unchecked',
  [QueryVerdict.SAFE]: 'safe',
  [QueryVerdict.BROKEN]: 'broken',
  [QueryVerdict.CHANGED]: 'changed',
  [QueryVerdict.INVALID]: 'invalid',
};

export const LIVE_LABELS: Readonly<Record<LiveVerdict, string>> = {
  [LiveVerdict.UNSPECIFIED]: 'not compared',
  [LiveVerdict.MATCH]: 'match',
  [LiveVerdict.DIVERGED]: 'diverged',
  [LiveVerdict.ERROR]: 'error',
  [LiveVerdict.NO_DATA]: 'no data',
};
