import { useId, useState } from 'react';
import { chooseNotify, notifyChosen, notifySupport } from '../../components/AlertBanner';
import type { NotifySupport } from '../../components/AlertBanner';

/** What the section says for what the browser allows and what the user chose. */
export function notifyText(support: NotifySupport, chosen: boolean): string {
  switch (support) {
    case 'missing':
      return 'This browser offers web pages no notifications (on an iPhone or iPad: only to a page added to the home screen).';
    case 'insecure':
      return 'Browsers show notifications only for pages opened over HTTPS (or on localhost); this one was opened over plain HTTP.';
    case 'denied':
      return "Notifications are blocked for this site in the browser's settings. Allow them there (the icon beside the address), then press Check again.";
    case 'granted':
      if (chosen) return 'On: this browser shows a notification when an alert starts firing while dispymon is open in it (on any page).';
      break;
  }
  return 'Off: turn them on to be told, in this browser, when an alert starts firing while dispymon is open (on any page).';
}

/** The per-browser opt-in to the Notification API (kept in localStorage). */
export function NotifySettings() {
  const id = useId();
  const [support, setSupport] = useState(notifySupport);
  const [chosen, setChosen] = useState(notifyChosen);
  const [problem, setProblem] = useState<string | null>(null);
  const on = chosen && support === 'granted';

  const turnOn = async () => {
    setProblem(null);
    let permission = notifySupport();
    if (permission === 'default') {
      try {
        permission = await Notification.requestPermission();
      } catch (err) {
        setProblem(`The browser did not ask: ${String(err)}`);
      }
    }
    setSupport(permission);
    if (permission !== 'granted') return;
    try {
      // one at once, so the user sees what they will get (and a browser that refuses says so now)
      new Notification('dispymon: notifications on', { body: 'You will be told here when an alert starts firing.', tag: 'dispymon-notify-on' });
    } catch {
      setProblem('This browser refused to show a notification from a page (Chrome on Android shows them only from installed apps).');
      return;
    }
    chooseNotify(true);
    setChosen(true);
  };

  const turnOff = () => {
    chooseNotify(false);
    setChosen(false);
  };

  return (
    <section aria-labelledby={id}>
      <h3 id={id}>Notifications in this browser</h3>
      <p className="alerts-note" role="status">
        {notifyText(support, chosen)}
      </p>
      {problem !== null && (
        <p className="notice alerts-error" role="alert">
          {problem}
        </p>
      )}
      {on ? (
        <button type="button" onClick={turnOff}>
          Turn off notifications
        </button>
      ) : support === 'denied' ? (
        <button type="button" onClick={() => setSupport(notifySupport())}>
          Check again
        </button>
      ) : support === 'default' || support === 'granted' ? (
        <button type="button" onClick={() => void turnOn()}>
          Turn on notifications
        </button>
      ) : null}
    </section>
  );
}
