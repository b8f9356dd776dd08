/**
 * Precise jobs' planned fires (core/planner.ts) this agent holds until their instants, less `leadMs`,
 * and then decides as LOCAL fires (local-decisions.ts: Dispatcher.fireLocal naming the plan's fence,
 * then `execute` for the winner). The same plan delivered again is held once; a plan with a higher
 * fence (moved here again) replaces it. A plan whose instant has passed is decided at once. Plans not
 * yet decided when the agent stops stay placeholders: the planner gives them to a live worker again.
 *
 * @example
 * const plans = new HeldPlans({ leadMs: 1000, taking: () => running, decide, clock, timers });
 * plans.hold({ runId, jobId, scheduledTime, startAt, fence }); // true: held
 * plans.clear(); // on stop
 */
import type { Clock } from '../core/ports';
import { type HeldPlan, MAX_TIMER_MS, type Timers } from './local-decisions';

export interface HeldPlansOptions {
  /** How long before its instant a plan is decided. */
  readonly leadMs: number;
  /** False once LocalFires stopped: nothing more is held. */
  readonly taking: () => boolean;
  /** Decides a plan whose time has come (LocalDecisions.fire). */
  readonly decide: (plan: HeldPlan, firedAt: number) => void;
  readonly clock: Clock;
  readonly timers: Timers;
}

export class HeldPlans {
  /** Planned fires held until their instant, by run id. */
  private readonly held = new Map<string, HeldPlan & { timer: unknown }>();

  constructor(private readonly options: HeldPlansOptions) {}

  /** Holds a plan (see the header). False when not held (stopped, or already held). */
  hold(plan: HeldPlan): boolean {
    const { leadMs, clock, timers } = this.options;
    const known = this.held.get(plan.runId);
    if (!this.options.taking() || (known && known.fence >= plan.fence)) return false;
    if (known) timers.clearTimeout(known.timer);
    const wait = () => Math.min(MAX_TIMER_MS, Math.max(0, plan.startAt - leadMs - clock.now()));
    const entry = { ...plan, timer: undefined as unknown };
    const onTimer = () => {
      if (this.held.get(plan.runId) !== entry) return;
      const firedAt = clock.now();
      if (firedAt < plan.startAt - leadMs) {
        entry.timer = timers.setTimeout(onTimer, wait()); // a long wait split in parts, or early
        return;
      }
      this.held.delete(plan.runId);
      this.options.decide(plan, firedAt);
    };
    entry.timer = timers.setTimeout(onTimer, wait());
    this.held.set(plan.runId, entry);
    return true;
  }

  /** Planned fires held here: run id → instant (status pages and tests). */
  heldPlans(): ReadonlyMap<string, number> {
    return new Map([...this.held].map(([runId, plan]) => [runId, plan.startAt]));
  }

  /** Drops every held plan and its timer. */
  clear(): void {
    for (const plan of this.held.values()) this.options.timers.clearTimeout(plan.timer);
    this.held.clear();
  }
}
