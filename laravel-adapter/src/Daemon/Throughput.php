<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Daemon;

use Illuminate\Contracts\Cache\Repository as Cache;

/**
 * Messages the daemons received and published, per minute, over the last
 * hour, in Laravel's cache (the store of the daemon registry): one entry per
 * minute, holding each daemon's own count of that minute. A daemon only
 * rewrites its own count, so the daemons of several hosts, and a daemon and
 * the one that replaced it after a restart, add up without a lock. Entries
 * expire once they are older than the hour.
 *
 * Two daemons writing the same minute at once may drop one count; its
 * daemon writes it again a second later (with the minute's last second lost
 * when that was its last write of the minute).
 */
final class Throughput
{
    public const MINUTES = 60;

    private const KEY = 'mqtt-broadcast:throughput:';

    public function __construct(private readonly Cache $cache)
    {
    }

    /** The start of the minute $time falls in, in seconds since the epoch. */
    public static function minuteOf(float $time): int
    {
        return intdiv((int) floor($time), 60) * 60;
    }

    /** Writes what the daemon $daemon received and published in the minute starting at $minute. */
    public function record(string $daemon, int $minute, int $received, int $published): void
    {
        $key = self::KEY . $minute;
        $counts = $this->cache->get($key);
        $counts = is_array($counts) ? $counts : [];
        $counts[$daemon] = [$received, $published];
        $this->cache->put($key, $counts, (self::MINUTES + 2) * 60);
    }

    /**
     * The last hour, oldest minute first, the minute of $now last (still counting).
     *
     * @return list<array{at: int, received: int, published: int}>
     */
    public function lastHour(float $now): array
    {
        $current = self::minuteOf($now);
        $keys = [];
        for ($minute = $current - (self::MINUTES - 1) * 60; $minute <= $current; $minute += 60) {
            $keys[$minute] = self::KEY . $minute;
        }
        $stored = $this->cache->many(array_values($keys));
        $hour = [];
        foreach ($keys as $minute => $key) {
            $received = $published = 0;
            foreach (is_array($stored[$key] ?? null) ? $stored[$key] : [] as $counts) {
                $received += (int) ($counts[0] ?? 0);
                $published += (int) ($counts[1] ?? 0);
            }
            $hour[] = ['at' => $minute, 'received' => $received, 'published' => $published];
        }
        return $hour;
    }
}
