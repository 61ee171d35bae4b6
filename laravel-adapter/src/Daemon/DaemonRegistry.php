<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Daemon;

use Illuminate\Contracts\Cache\Repository as Cache;

/**
 * Running daemons, as heartbeats in Laravel's cache (horizon style): each daemon
 * rewrites its record every loop turn with a TTL, so a daemon that died without
 * cleaning up disappears on its own. The cache store must be shared by the
 * processes of a host (file, redis, memcached, database; not array).
 */
final class DaemonRegistry
{
    /** Seconds a record outlives the daemon's last heartbeat. */
    public const TTL = 15;

    private const INDEX_KEY = 'mqtt-broadcast:daemons';
    private const RECORD_KEY = 'mqtt-broadcast:daemon:';

    public function __construct(private readonly Cache $cache)
    {
    }

    /**
     * Writes the daemon's record and puts its name in the index. The index is a
     * plain cache value, so two daemons writing it at once may drop one name;
     * the next heartbeat (a second later) puts it back.
     *
     * @param array<string, mixed> $record with at least "name"
     */
    public function heartbeat(array $record): void
    {
        $record['heartbeat_at'] = microtime(true);
        $this->cache->put(self::RECORD_KEY . $record['name'], $record, self::TTL);
        $names = $this->names();
        if (!in_array($record['name'], $names, true)) {
            $names[] = $record['name'];
        }
        $this->cache->put(self::INDEX_KEY, $names, self::TTL);
    }

    public function forget(string $name): void
    {
        $this->cache->forget(self::RECORD_KEY . $name);
        $this->cache->put(self::INDEX_KEY, array_values(array_diff($this->names(), [$name])), self::TTL);
    }

    /**
     * Records of every daemon whose heartbeat has not expired, by name. A record
     * of this host whose process is gone (killed with SIGKILL) is dropped at once.
     *
     * @return array<string, array<string, mixed>>
     */
    public function all(): array
    {
        $daemons = [];
        foreach ($this->names() as $name) {
            $record = $this->cache->get(self::RECORD_KEY . $name);
            if (!is_array($record)) {
                continue;
            }
            if (self::isLocal($record) && !ProcessTable::isRunning((int) $record['pid'])) {
                $this->forget($name);
                continue;
            }
            $daemons[$name] = $record;
        }
        ksort($daemons);
        return $daemons;
    }

    /** @param array<string, mixed> $record */
    public static function isLocal(array $record): bool
    {
        return ($record['host'] ?? null) === gethostname();
    }

    /** @return list<string> */
    private function names(): array
    {
        $names = $this->cache->get(self::INDEX_KEY);
        return is_array($names) ? array_values($names) : [];
    }
}
