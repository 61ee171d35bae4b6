<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Unit;

use Illuminate\Cache\ArrayStore;
use Illuminate\Cache\Repository;
use MqttBroadcast\Laravel\Daemon\Throughput;
use PHPUnit\Framework\TestCase;

/** The dashboard's last hour, as the daemons write it to Laravel's cache. */
final class ThroughputTest extends TestCase
{
    public function test_the_counts_of_each_daemon_add_up_per_minute_and_a_daemon_rewrites_only_its_own(): void
    {
        $throughput = new Throughput(new Repository(new ArrayStore()));
        $now = 1_800_000_030.5;
        $minute = Throughput::minuteOf($now);
        self::assertSame(1_800_000_000, $minute);

        $throughput->record('web1-abcd', $minute - 120, 7, 1);
        $throughput->record('web1-abcd', $minute, 3, 0);
        $throughput->record('web2-efgh', $minute, 4, 2);
        $throughput->record('web1-abcd', $minute, 5, 0);
        $throughput->record('web1-abcd', $minute - 3600, 99, 99);

        $hour = $throughput->lastHour($now);
        self::assertCount(60, $hour);
        self::assertSame(['at' => $minute - 59 * 60, 'received' => 0, 'published' => 0], $hour[0], 'an hour ago is no longer in it');
        self::assertSame(['at' => $minute - 120, 'received' => 7, 'published' => 1], $hour[57]);
        self::assertSame(['at' => $minute, 'received' => 9, 'published' => 2], $hour[59], "each daemon's latest count of the minute");
    }
}
