<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Unit;

use MqttBroadcast\Laravel\Daemon\TopicFilter;
use PHPUnit\Framework\TestCase;

final class TopicFilterTest extends TestCase
{
    /** @return iterable<string, array{string, string, bool}> */
    public static function cases(): iterable
    {
        yield 'exact' => ['a/b', 'a/b', true];
        yield 'exact, other topic' => ['a/b', 'a/c', false];
        yield '# matches everything' => ['#', 'a/b/c', true];
        yield '# matches the parent level' => ['a/#', 'a', true];
        yield '# below' => ['a/#', 'a/b/c', true];
        yield '# other branch' => ['a/#', 'b/c', false];
        yield '+ one level' => ['a/+/c', 'a/b/c', true];
        yield '+ not two levels' => ['a/+/c', 'a/b/x/c', false];
        yield '+ matches an empty level' => ['a/+', 'a/', true];
        yield '+ needs the level' => ['a/+', 'a', false];
        yield 'longer topic' => ['a/b', 'a/b/c', false];
        yield 'shared subscription' => ['$share/workers/alerts/#', 'alerts/fire', true];
        yield 'shared subscription, other topic' => ['$share/workers/alerts/#', 'sensors/1', false];
        yield 'wildcards skip $ topics' => ['#', '$SYS/broker/uptime', false];
        yield '+ skips $ topics' => ['+/broker/uptime', '$SYS/broker/uptime', false];
        yield '$ topics by name' => ['$SYS/#', '$SYS/broker/uptime', true];
    }

    /** @dataProvider cases */
    public function test_matches(string $filter, string $topic, bool $matches): void
    {
        self::assertSame($matches, TopicFilter::matches($filter, $topic));
    }
}
