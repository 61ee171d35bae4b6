<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Commands;

use Illuminate\Console\Command;
use MqttBroadcast\Laravel\Commands\Concerns\WritesComponents;
use MqttBroadcast\Laravel\Daemon\DaemonRegistry;
use MqttBroadcast\Laravel\Daemon\ProcessTable;

class TerminateCommand extends Command
{
    use WritesComponents;

    protected $signature = 'mqtt-broadcast:terminate
        {name? : The daemon to stop, as mqtt-broadcast:status names it, or a connection: the daemons of this host listening on it (default: every daemon on this host)}
        {--wait : Wait until the daemons have exited}';

    protected $description = 'Stop the mqtt-broadcast daemons of this host gracefully (SIGTERM)';

    /** Longest --wait, a bit more than a daemon needs to flush and close. */
    private const WAIT_SECONDS = 60;

    public function handle(DaemonRegistry $registry): int
    {
        if (!function_exists('posix_kill')) {
            $this->status('error', 'mqtt-broadcast:terminate needs the posix extension to signal the daemons.');
            return 1;
        }
        $host = (string) gethostname();
        $daemons = $registry->all();
        $name = $this->argument('name');

        if ($name !== null && !isset($daemons[$name]) && $this->isConnection($name)) {
            // The pure-PHP package's form, `mqtt-broadcast:terminate default`, as deploy scripts run it.
            $targets = array_filter($daemons, static fn (array $d) => DaemonRegistry::isLocal($d) && isset($d['connections'][$name]));
            if ($targets === []) {
                $this->status('info', "No mqtt-broadcast daemon on this host ($host) listens on connection \"$name\".");
                return 0;
            }
        } elseif ($name !== null) {
            $daemon = $daemons[$name] ?? null;
            if ($daemon === null) {
                $this->status('error', sprintf('No mqtt-broadcast daemon named "%s" is running (running: %s), and no connection has that name.', $name, $daemons === [] ? 'none' : implode(', ', array_keys($daemons))));
                return 1;
            }
            if (!DaemonRegistry::isLocal($daemon)) {
                $this->status('error', sprintf('Daemon "%s" runs on host %s, not on this host (%s): run mqtt-broadcast:terminate there.', $name, $daemon['host'], $host));
                return 1;
            }
            $targets = [$name => $daemon];
        } else {
            $targets = array_filter($daemons, DaemonRegistry::isLocal(...));
            if ($targets === []) {
                $this->status('info', "No mqtt-broadcast daemon is running on this host ($host).");
                return 0;
            }
        }

        $failed = 0;
        $signalled = [];
        foreach ($targets as $daemonName => $daemon) {
            $pid = (int) $daemon['pid'];
            if (posix_kill($pid, SIGTERM)) {
                $this->status('info', "Sent SIGTERM to daemon $daemonName (pid $pid).");
                $signalled[$daemonName] = $pid;
            } else {
                $this->status('error', "Could not signal daemon $daemonName (pid $pid): " . posix_strerror(posix_get_last_error()));
                $failed++;
            }
        }

        if ($this->option('wait')) {
            $failed += $this->waitForExit($signalled);
        }
        return $failed === 0 ? 0 : 1;
    }

    private function isConnection(string $name): bool
    {
        // The raw config: stopping daemons must work even when the config no longer validates.
        return array_key_exists($name, (array) $this->laravel['config']->get('mqtt-broadcast.connections'));
    }

    /**
     * @param array<string, int> $pids by daemon name
     * @return int how many are still running when the wait ends
     */
    private function waitForExit(array $pids): int
    {
        $deadline = microtime(true) + self::WAIT_SECONDS;
        while ($pids !== [] && microtime(true) < $deadline) {
            foreach ($pids as $name => $pid) {
                if (!ProcessTable::isRunning($pid)) {
                    $this->status('info', "Daemon $name exited.");
                    unset($pids[$name]);
                }
            }
            usleep(100_000);
        }
        foreach ($pids as $name => $pid) {
            $this->status('error', sprintf('Daemon %s (pid %d) is still running after %d s.', $name, $pid, self::WAIT_SECONDS));
        }
        return count($pids);
    }
}
