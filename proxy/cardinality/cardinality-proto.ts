/**
 * Cardinality windows to and from their protobuf form (`phoenix.v1.CardinalityReport`),
 * for the proxy's status reports and the control plane that merges them.
 */
import { create } from '@bufbuild/protobuf';
import {
  type CardinalityReport,
  CardinalityReportSchema,
  CardinalityWindowSchema,
  CardinalityView as ProtoView,
} from '../../proto/gen/phoenix/v1/analysis_pb.js';
import type { CardinalityView, CardinalityWindow } from './cardinality-summary.js';

/** The view a request asks for; unspecified means output. */
export function viewFromProto(view: ProtoView): CardinalityView {
  return view === ProtoView.INPUT ? 'input' : 'output';
}

export function viewToProto(view: CardinalityView): ProtoView {
  return view === 'input' ? ProtoView.INPUT : ProtoView.OUTPUT;
}

export function windowsToReport(windows: readonly CardinalityWindow[]): CardinalityReport {
  return create(CardinalityReportSchema, {
    windows: windows.map((window) =>
      create(CardinalityWindowSchema, {
        view: viewToProto(window.view),
        windowStartMs: BigInt(window.windowStartMs),
        windowMs: BigInt(window.windowMs),
        tracker: window.tracker,
      }),
    ),
  });
}

export function windowsFromReport(report: CardinalityReport): CardinalityWindow[] {
  return report.windows.map((window) => ({
    view: viewFromProto(window.view),
    windowStartMs: Number(window.windowStartMs),
    windowMs: Number(window.windowMs),
    tracker: window.tracker,
  }));
}
