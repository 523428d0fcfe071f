import { EventEmitter } from 'node:events';

/**
 * Tells config watchers that a pipeline changed. Within one control-plane process this is
 * enough; several replicas sharing a database would feed it from the database's own change
 * notifications instead.
 */
export class PipelineEvents {
  readonly #emitter = new EventEmitter();

  constructor() {
    // One listener per open config stream: many proxies are normal, not a leak.
    this.#emitter.setMaxListeners(0);
  }

  /** Called after a write of `name` is committed. */
  changed(name: string): void {
    this.#emitter.emit('changed', name);
  }

  /** Calls `listener` on each change of `name`; returns the function that stops it. */
  subscribe(name: string, listener: () => void): () => void {
    const onChanged = (changed: string) => {
      if (changed === name) listener();
    };
    this.#emitter.on('changed', onChanged);
    return () => this.#emitter.off('changed', onChanged);
  }
}
