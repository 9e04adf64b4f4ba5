import { useEffect, useRef } from 'react';
import type { CSSProperties } from 'react';
import { useDashboard } from '../core/context';
import type { Alert } from '../core/protocol';
import { ALERTS_PATH } from '../lib/paths';
import { Link, navigate } from '../router';

// Loaded with the page but not in its first chunk (App.tsx; the bundle
// budget): the banner, and the browser's Notification API for alerts, per
// browser after the user opts in on the Alerts page.

const NOTIFY_KEY = 'dispymon-notify';

/** The user turned notifications on in this browser (the Alerts page's button; kept in localStorage). */
export function notifyChosen(): boolean {
  try {
    return localStorage.getItem(NOTIFY_KEY) === 'on';
  } catch {
    return false; // storage refused (private mode): never chosen
  }
}

export function chooseNotify(on: boolean): void {
  try {
    if (on) localStorage.setItem(NOTIFY_KEY, 'on');
    else localStorage.removeItem(NOTIFY_KEY);
  } catch {
    // storage refused: the browser cannot keep the choice
  }
}

/** An alert's identity across server restarts (a restarted server may number its alerts afresh). */
const alertKey = (a: Alert) => `${a.id}:${a.started}`;

/**
 * The alerts of `firing` that were not in the last list seen, and the list
 * to remember. `seen` null: the first list the banner sees (the page's
 * first snapshot, unless a delta beat this module's loading), whose alerts
 * already fired at load and are not news.
 */
export function newlyFiring(seen: ReadonlySet<string> | null, firing: readonly Alert[]): { fresh: Alert[]; seen: Set<string> } {
  return { fresh: seen ? firing.filter((a) => !seen.has(alertKey(a))) : [], seen: new Set(firing.map(alertKey)) };
}

/** Alerts notified one by one per update; more at once become one summary notification. */
export const NOTIFY_AT_ONCE = 3;

/**
 * What this browser allows: `missing` (no Notification API, e.g. iOS Safari
 * outside a home-screen app), `insecure` (the API needs HTTPS or localhost),
 * or the permission itself.
 */
export type NotifySupport = 'missing' | 'insecure' | NotificationPermission;

export function notifySupport(): NotifySupport {
  if (typeof window.Notification !== 'function') return window.isSecureContext === false ? 'insecure' : 'missing';
  return Notification.permission;
}

let refused = false;

/**
 * Shows a notification per alert (the first NOTIFY_AT_ONCE, then one for the
 * rest) when the browser allows them; a click brings the page to the front
 * on `open`. Returns false when the browser refused to build one (Chrome on
 * Android builds them only from a service worker); that is logged once.
 */
export function showNotifications(alerts: readonly Alert[], open: () => void): boolean {
  if (notifySupport() !== 'granted' || alerts.length === 0) return false;
  const show = (title: string, body: string, tag: string) => {
    // the tag: two tabs of the dashboard show one notification, not two
    const n = new Notification(title, { body, tag });
    n.onclick = () => {
      window.focus();
      open();
      n.close();
    };
  };
  try {
    for (const a of alerts.slice(0, NOTIFY_AT_ONCE)) {
      show(`dispymon: ${a.summary}`, `${a.severity}${a.cluster ? `, cluster ${a.cluster}` : ''} (${a.rule})`, `dispymon-alert-${a.id}-${a.started}`);
    }
    const more = alerts.length - NOTIFY_AT_ONCE;
    if (more > 0) show(`dispymon: ${more} more alerts firing`, 'See the Alerts page', `dispymon-alerts-${alerts[NOTIFY_AT_ONCE]!.id}`);
    return true;
  } catch (err) {
    if (!refused) console.warn('dispymon: this browser refused to show a notification:', err);
    refused = true;
    return false;
  }
}

/** Notifies each alert that starts firing while this page is open, once the user opted in. */
function useAlertNotifications(): void {
  const firing = useDashboard((s) => s.alerts?.firing);
  const seen = useRef<Set<string> | null>(null);
  useEffect(() => {
    if (!firing) return;
    const next = newlyFiring(seen.current, firing);
    seen.current = next.seen;
    if (next.fresh.length > 0 && notifyChosen()) {
      showNotifications(next.fresh, () => navigate(ALERTS_PATH));
    }
  }, [firing]);
}

/**
 * On every page while something fires: how many, linking to the Alerts page.
 * The region is always in the DOM, so screen readers hear it fill. Styled
 * inline: a stylesheet of its own would cost the first page its name.
 */
export default function AlertBanner() {
  useAlertNotifications();
  const total = useDashboard((s) => s.alerts?.firing_total ?? 0);
  const critical = useDashboard((s) => s.alerts?.firing.some((a) => a.severity === 'critical'));
  const only = useDashboard((s) => (s.alerts?.firing_total === 1 ? s.alerts.firing[0]?.summary : undefined));
  return (
    <div role="status" aria-label="Alerts" className="alert-banner" style={total > 0 ? bannerStyle(critical === true) : undefined}>
      {total > 0 && (
        <>
          <Link to={ALERTS_PATH} style={{ fontWeight: 600 }}>
            {total === 1 ? '1 alert firing' : `${total} alerts firing`}
          </Link>
          {only && `: ${only}`}
        </>
      )}
    </div>
  );
}

function bannerStyle(critical: boolean): CSSProperties {
  return {
    padding: '0.5rem 1rem',
    background: 'var(--surface)',
    borderBottom: '1px solid var(--border)',
    borderLeft: `6px solid var(${critical ? '--error' : '--warn'})`,
    overflowWrap: 'anywhere', // a long summary wraps on a phone
  };
}
