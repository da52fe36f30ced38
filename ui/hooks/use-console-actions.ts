import { useEffect, useRef, type Dispatch, type RefObject } from 'react';
import { ExitCode, OrderbusError, usageError } from '../../src/errors.js';
import {
  toStatusMessage,
  type ConsoleOps,
  type GroupView,
  type RedriveRequest,
  type StatusMessage,
} from '../model.js';
import {
  currentRow,
  type ConsoleEvent,
  type ConsoleState,
  type PromptKind,
  type ScreenRows,
} from '../state.js';
import type { PromptControl } from './use-prompt.js';

/** What the screen showed when the key was pressed: the state and its rows. */
export type LiveScreen = { state: ConsoleState } & ScreenRows;

export interface ConsoleActionDeps {
  ops: ConsoleOps;
  /** Opens the text in the editor and returns the edited text (null when unchanged or aborted). */
  edit: (text: string) => Promise<string | null>;
  dispatch: Dispatch<ConsoleEvent>;
  live: RefObject<LiveScreen>;
  prompt: PromptControl;
}

export interface ConsoleActions {
  redriveSelected(): void;
  redriveAll(): void;
  fixUrl(): void;
  edit(): void;
  purge(): void;
  resetOffsets(): void;
  submitPrompt(text: string): void;
  cancelPrompt(): void;
  /** Esc while a redrive is being planned: stops it (the letters go back); false when none is. */
  cancelPlanning(): boolean;
}

/** As `orderbus offsets reset` refuses it (exit 3 there): live consumers would overwrite or race a reset. */
export function groupActiveError(g: Pick<GroupView, 'group' | 'state' | 'members'>): OrderbusError {
  return new OrderbusError(
    'GROUP_ACTIVE',
    `group ${g.group} is ${g.state} with ${g.members} active member(s); resetting under live consumers would be overwritten or race them`,
    {
      exitCode: ExitCode.unsafe,
      subject: g.group,
      hint: "stop the group's consumers, then press o again (orderbus offsets reset --wait-empty waits for them)",
    },
  );
}

/**
 * The console's workflows, each plan → confirm → execute: redrive (selected, all, with a fixed
 * URL or an edited payload), purge, and offset reset. Nothing changes before the typed
 * confirmation; every failure becomes the status line.
 */
export function useConsoleActions({ ops, edit, dispatch, live, prompt }: ConsoleActionDeps): ConsoleActions {
  // Payloads edited in this DLQ, sent with every later plan until a redrive executes.
  const edits = useRef<Record<string, string>>({});
  const say = (kind: StatusMessage['kind'], text: string) =>
    dispatch({ type: 'status', status: { kind, text } });
  const fail = (e: unknown) => dispatch({ type: 'status', status: toStatusMessage(e) });
  const dropPending = (text: string) => {
    dispatch({ type: 'pending', pending: null });
    say('info', text);
  };
  const run = async (what: () => Promise<void>) => {
    try {
      await what();
    } catch (e) {
      fail(e);
    }
  };
  // Every confirmation names the cluster it changes: read at start and again before each plan's
  // prompt (the purge prompt opens at once, with the last one read).
  const target = useRef('');
  const readTarget = async () => {
    const line = await ops.target?.().catch(() => undefined);
    if (line) target.current = `${line} · `;
  };
  useEffect(() => void readTarget(), [ops]);
  const confirmPrompt = (kind: 'confirm' | 'purgeConfirm', text: string) =>
    prompt.open(kind, `${target.current}${text}`);
  const onMessages = () => live.current.state.screen === 'dlqMessages';
  const currentMessage = () => {
    const { state, messageRows } = live.current;
    return currentRow(messageRows, state.cursor.dlqMessages, (m) => m.id);
  };

  // The plan in progress: Esc aborts it, which closes its channel and so returns every held letter.
  const planner = useRef<AbortController | null>(null);
  const planRedrive = (request: RedriveRequest) =>
    run(async () => {
      planner.current?.abort();
      const controller = new AbortController();
      planner.current = controller;
      const { signal } = controller;
      const planning = (scanned: number, total: number) =>
        dispatch({ type: 'planning', planning: { dlq: request.dlq, scanned, total } });
      planning(0, 0);
      try {
        const [preview] = await Promise.all([
          ops.planRedrive(request, {
            signal,
            onProgress: (scanned, total) => {
              if (!signal.aborted) planning(scanned, total);
            },
          }),
          readTarget(),
        ]);
        if (signal.aborted) return;
        dispatch({ type: 'pending', pending: { kind: 'redrive', request, preview } });
        confirmPrompt('confirm', `redrive ${preview.toRedrive} message(s)? type yes:`);
      } catch (e) {
        if (!signal.aborted) throw e;
      } finally {
        if (planner.current === controller) {
          planner.current = null;
          dispatch({ type: 'planning', planning: null });
        }
      }
    });

  const redriveBase = (): RedriveRequest => ({
    dlq: live.current.state.dlq ?? '',
    ...(live.current.state.selected.length > 0 ? { ids: live.current.state.selected } : {}),
    ...(Object.keys(edits.current).length > 0 ? { edits: { ...edits.current } } : {}),
  });

  const executeRedrive = (request: RedriveRequest) =>
    run(async () => {
      const out = await ops.executeRedrive(request, (done, total) =>
        dispatch({ type: 'progress', progress: { done, total } }),
      );
      edits.current = {};
      dispatch({ type: 'progress', progress: null });
      dispatch({ type: 'pending', pending: null });
      say(
        out.failed > 0 ? 'error' : 'ok',
        `redriven ${out.redriven}, failed ${out.failed}, left in the DLQ ${out.remaining}`,
      );
      dispatch({ type: 'refresh' });
    });

  const submit: Record<PromptKind, (text: string) => void> = {
    filter: (text) => dispatch({ type: 'setFilter', filter: text }),
    traceId: (text) => {
      if (text.trim()) dispatch({ type: 'setTrace', orderId: text.trim() });
    },
    fixUrl: (text) => {
      const m = /^(\S+)=(\S+)$/.exec(text.trim());
      if (!m)
        return fail(
          usageError(
            'BAD_FIX_URL',
            `expected OLD=NEW, got '${text}'`,
            'u, then e.g. http://partner/v1=http://partner/v2',
          ),
        );
      void planRedrive({ ...redriveBase(), fixUrl: { from: m[1] ?? '', to: m[2] ?? '' } });
    },
    purgeConfirm: (text) => {
      const { state, dlqRows } = live.current;
      const dlq =
        state.screen === 'dlqs' ? currentRow(dlqRows, state.cursor.dlqs, (d) => d.name)?.name : state.dlq;
      if (!dlq || text !== dlq) return say('info', 'name did not match; nothing was purged');
      void run(async () => {
        const r = await ops.purge(dlq);
        say('ok', `purged ${r.removed} message(s) from ${dlq} (audit record written)`);
        dispatch({ type: 'refresh' });
      });
    },
    resetStrategy: (text) => {
      const { group } = live.current;
      const strategy = text.trim();
      const topic = group?.partitions[0]?.topic;
      if ((strategy !== 'earliest' && strategy !== 'latest') || !group || !topic)
        return fail(
          usageError(
            'BAD_STRATEGY',
            `earliest or latest, got '${text}'`,
            'orderbus offsets reset --help for every strategy',
          ),
        );
      void run(async () => {
        const [plan] = await Promise.all([ops.planReset(group.group, topic, strategy), readTarget()]);
        dispatch({ type: 'pending', pending: { kind: 'reset', plan } });
        confirmPrompt('confirm', `type the group name (${group.group}) to execute:`);
      });
    },
    confirm: (text) => {
      const pending = live.current.state.pending;
      if (!pending) return;
      if (pending.kind === 'redrive') {
        if (text !== 'yes') return dropPending('not confirmed; nothing was redriven');
        void executeRedrive(pending.request);
        return;
      }
      if (text !== pending.plan.group) return dropPending('name did not match; offsets unchanged');
      void run(async () => {
        await ops.executeReset(pending.plan);
        dispatch({ type: 'pending', pending: null });
        say('ok', `offsets of ${pending.plan.group} reset to ${pending.plan.strategy}`);
        dispatch({ type: 'refresh' });
      });
    },
  };

  return {
    redriveSelected: () => {
      if (!onMessages()) return;
      const { state } = live.current;
      const current = currentMessage();
      const ids = state.selected.length > 0 ? state.selected : current ? [current.id] : [];
      if (ids.length > 0) void planRedrive({ ...redriveBase(), ids });
    },
    redriveAll: () => {
      if (!onMessages()) return;
      const { ids: _ids, ...all } = redriveBase();
      void planRedrive(all);
    },
    fixUrl: () => {
      if (onMessages()) prompt.open('fixUrl', 'fix URL prefix OLD=NEW:');
    },
    edit: () => {
      const { state } = live.current;
      const m = currentMessage();
      if (!onMessages() || !m) return;
      void run(async () => {
        const edited = await edit(edits.current[m.id] ?? m.payload);
        if (edited === null) return say('info', 'payload unchanged');
        edits.current[m.id] = edited;
        await planRedrive({ dlq: state.dlq ?? '', ids: [m.id], edits: { [m.id]: edited } });
      });
    },
    purge: () => {
      const { screen } = live.current.state;
      if (screen === 'dlqs' || screen === 'dlqMessages')
        confirmPrompt('purgeConfirm', 'type the DLQ name to purge it:');
    },
    resetOffsets: () => {
      const { state, group } = live.current;
      if (state.screen !== 'group' || !group) return;
      // Refused before any plan is offered, as the CLI refuses it: the reset could not be executed.
      if (group.members > 0) return fail(groupActiveError(group));
      prompt.open('resetStrategy', 'reset to (earliest|latest):');
    },
    submitPrompt: (text) => {
      const kind = prompt.kind();
      if (!kind) return;
      prompt.close();
      submit[kind](text);
    },
    cancelPrompt: () => {
      prompt.close();
      if (live.current.state.pending) dispatch({ type: 'back' });
    },
    cancelPlanning: () => {
      const controller = planner.current;
      if (!controller) return false;
      planner.current = null;
      controller.abort();
      dispatch({ type: 'planning', planning: null });
      say('info', 'planning cancelled; the letters it held are back in the DLQ, nothing was changed');
      dispatch({ type: 'refresh' });
      return true;
    },
  };
}
