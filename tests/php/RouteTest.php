<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Client;
use Mqtt\Message;
use Mqtt\Subscriber;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * Mqtt\Subscriber::route() against a real mosquitto: named topic levels,
 * several routes per message, shared subscriptions, prefixes, and bad
 * patterns; and Mqtt\Client::waitConnected().
 *
 * @group protocol
 */
final class RouteTest extends MqttTestCase
{
    public function testNamedLevelsReachTheHandlerWithTheMessage(): void
    {
        $client = $this->connectedClient($this->options());
        $subscriber = new Subscriber([$client]);
        $base = $this->topic('metrics');
        $seen = [];
        $subscriber->route("$base/{tenant}/{agent}/{metric}", function (Message $message, array $params) use (&$seen): void {
            $seen[] = [$message->payload, $params];
        }, 1);

        $this->broker()->mosquittoPub("$base/t-1/a-7/cpu", '0.5');
        $this->broker()->mosquittoPub("$base/t-1/a-7", 'a level missing');
        $this->broker()->mosquittoPub("$base/t-1/a-7/cpu/x", 'a level too many');
        $this->broker()->mosquittoPub("$base/t-2/a-9/mem", '42');

        $handled = $subscriber->loop(null, timeout: 20.0, limit: 2);

        $this->assertSame(2, $handled);
        $this->assertSame([
            ['0.5', ['tenant' => 't-1', 'agent' => 'a-7', 'metric' => 'cpu']],
            ['42', ['tenant' => 't-2', 'agent' => 'a-9', 'metric' => 'mem']],
        ], $seen);
        $this->assertNull($subscriber->next(0.3), 'the filter was metrics/+/+/+: nothing else came');
    }

    public function testAMessageGoesToEveryMatchingRouteOnceAndIsAcknowledgedAfterAll(): void
    {
        // One copy per client however many filters match, as Mosquitto before 2.1
        // did by default (2.1 sends one per filter over MQTT 3.1.1: README, "Mosquitto versions").
        $broker = Broker::start(['allow_duplicate_messages false']);
        $client = $this->connectedClient($this->options([], $broker));
        $subscriber = new Subscriber([$client]);
        $base = $this->topic('sensors');
        $calls = [];
        $subscriber->route("$base/{room}/temperature", function (Message $m, array $p) use (&$calls): void {
            $calls[] = 'room ' . $p['room'];
        }, 1);
        $subscriber->route("$base/{path*}", function (Message $m, array $p) use (&$calls): void {
            $calls[] = 'path ' . $p['path'];
        }, 1);
        $subscriber->route("$base/kitchen/+", function (Message $m, array $p) use (&$calls): void {
            $calls[] = 'kitchen ' . json_encode($p);
        }, 1);

        $broker->mosquittoPub("$base/kitchen/temperature", '21.5');
        $this->assertSame(1, $subscriber->loop(null, timeout: 20.0, limit: 1));

        $this->assertSame(['room kitchen', 'path kitchen/temperature', 'kitchen []'], $calls);
        $this->assertNull($subscriber->next(0.5), 'one message, however many routes: no duplicate');
    }

    public function testMessagesOfPlainSubscriptionsStillGoToTheLoopHandler(): void
    {
        $client = $this->connectedClient($this->options());
        $subscriber = new Subscriber([$client]);
        $routed = $this->topic('routed');
        $plain = $this->topic('plain');
        $got = [];
        $subscriber->route("$routed/{id}", function (Message $m, array $p) use (&$got): void {
            $got[] = "route {$p['id']}";
        }, 1);
        $subscriber->subscribe($plain, 1);

        $this->broker()->mosquittoPub("$routed/7", 'r');
        $this->broker()->mosquittoPub($plain, 'p');
        $subscriber->loop(function (Message $m) use (&$got): void {
            $got[] = "loop {$m->payload}";
        }, timeout: 20.0, limit: 2);

        $this->assertSameMultiset(['route 7', 'loop p'], $got);
    }

    public function testAThrowingRouteHandlerLeavesTheMessageUnacknowledged(): void
    {
        $broker = static::broker();
        $client = $this->connectedClient($this->options());
        $clientId = $client->status()['client_id'];
        $subscriber = new Subscriber([$client]);
        $base = $this->topic('jobs');
        $handled = [];
        $subscriber->route("$base/{id}", function (Message $m, array $p) use (&$handled): void {
            if ($m->payload === 'poison') {
                throw new \RuntimeException("job {$p['id']} fails");
            }
            $handled[] = $p['id'];
        }, 1);
        $broker->mosquittoPub("$base/1", 'poison');

        try {
            $subscriber->loop(null, timeout: 20.0, limit: 1);
            $this->fail('loop() returned although the route handler threw');
        } catch (\RuntimeException $e) {
            $this->assertSame('job 1 fails', $e->getMessage());
        }

        $broker->mosquittoPub("$base/2", 'fine');
        $this->assertSame(1, $subscriber->loop(null, timeout: 20.0, limit: 1));
        $this->assertSame(['2'], $handled);
        $broker->requireMosquitto('a log line for each PUBACK it receives (log_type all)');
        $pubacks = fn () => $broker->logLinesMatching('/Received PUBACK from ' . preg_quote($clientId, '/') . ' /');
        $deadline = microtime(true) + 10;
        while (count($pubacks()) < 1 && microtime(true) < $deadline) {
            usleep(20_000);
        }
        $this->assertCount(1, $pubacks(), "one PUBACK (for job 2), none for the job whose handler threw:\n" . implode("\n", $pubacks()));
    }

    public function testSharedRoutesAndTheConnectionPrefix(): void
    {
        $prefixed = $this->connectedClient($this->options(['prefix' => 'app/']));
        $subscriber = new Subscriber([$prefixed]);
        $base = $this->topic('work');
        $params = [];
        $subscriber->route('$share/' . $this->uniq() . "/$base/{queue}", function (Message $m, array $p) use (&$params): void {
            $params[] = [$m->topic, $p];
        }, 1);

        $this->broker()->mosquittoPub("app/$base/high", 'x');
        $subscriber->loop(null, timeout: 20.0, limit: 1);

        $this->assertSame([["$base/high", ['queue' => 'high']]], $params, 'matched without the prefix and the share group');
    }

    /** @return iterable<string, array{string, string}> */
    public static function badPatterns(): iterable
    {
        yield 'unclosed brace' => ['metrics/{tenant/x', "unclosed '{'"];
        yield 'a name used twice' => ['a/{id}/b/{id}', 'uses the name "id" twice'];
        yield 'rest not last' => ['a/{rest*}/b', 'must put "{rest*}" last'];
        yield 'a name inside a level' => ['a/x{id}', 'in braces alone'];
        yield 'an empty name' => ['a/{}', 'level name ""'];
        yield 'a # not last' => ['a/#/b', "'#' only as the last topic level"];
        yield 'empty' => ['', 'must not be empty'];
        yield 'not UTF-8' => ["a/\xff/{id}", 'UTF-8'];
    }

    /** @dataProvider badPatterns */
    public function testBadPatternsAreValueErrorsNamingThePattern(string $pattern, string $problem): void
    {
        $subscriber = new Subscriber([$this->client($this->options())]);
        try {
            $subscriber->route($pattern, fn () => null);
            $this->fail("pattern '$pattern' was accepted");
        } catch (\ValueError $e) {
            $this->assertStringStartsWith('argument #1 ($pattern) ', $e->getMessage());
            $this->assertStringContainsString($problem, $e->getMessage());
        }
    }

    public function testWaitConnectedSaysWhetherTheConnectionCameUp(): void
    {
        $client = $this->client($this->options());
        $this->assertTrue($client->waitConnected(10.0));
        $this->assertTrue($client->waitConnected(0.0), 'connected: true at once');

        $nobody = $this->client($this->options(['port' => Broker::freePort()]));
        $started = microtime(true);
        $this->assertFalse($nobody->waitConnected(0.5));
        $this->assertGreaterThanOrEqual(0.45, microtime(true) - $started, 'it waited for the timeout');

        $failing = $this->client($this->options([
            'port' => Broker::freePort(),
            'reconnect' => ['initial_delay' => 0.05, 'max_delay' => 0.05, 'max_retries' => 1],
        ]));
        $this->assertFalse($failing->waitConnected(30.0), 'failed for good: false without waiting 30 s');
        $this->assertSame('failed', $failing->status()['state']);

        try {
            $client->waitConnected(-1.0);
            $this->fail('a negative timeout was accepted');
        } catch (\ValueError $e) {
            $this->assertStringStartsWith('argument #1 ($timeout) ', $e->getMessage());
        }
    }

    private function connectedClient(array $options): Client
    {
        $client = $this->client($options);
        $this->assertTrue($client->waitConnected(10.0), 'not connected within 10 s: ' . json_encode($client->status()));
        return $client;
    }
}
