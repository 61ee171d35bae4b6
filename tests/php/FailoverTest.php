<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Client;
use Mqtt\ConfigException;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\SecureBroker;

/**
 * The `servers` and `url` options against real mosquittos: a connection goes
 * through the list, stays on a working server, fails over when its server dies
 * (QoS 1 messages not acknowledged by the dead one are sent to the next one),
 * spreads over the servers with server_order random, takes credentials from a
 * URL without ever showing them, and refuses bad entries naming them.
 */
final class FailoverTest extends MqttTestCase
{
    private const WAIT = 15.0;

    public function testADeadServerIsSkippedAndAKilledOneFailedOverWithNothingLost(): void
    {
        [$first, $second] = [$this->ownBroker(), $this->ownBroker()];
        $topic = $this->topic('failover');
        $onFirst = $this->listen($topic, $first);
        $onSecond = $this->listen($topic, $second);
        $dead = '127.0.0.1:' . Broker::freePort();
        $client = $this->client($this->options([
            'servers' => [$dead, "mqtt://127.0.0.1:{$first->port()}", "127.0.0.1:{$second->port()}"],
            'qos' => 1,
            'reconnect' => ['initial_delay' => 0.2, 'max_delay' => 1.0],
        ]));

        $this->assertTrue($client->waitConnected(self::WAIT), json_encode($client->status()));
        $status = $client->status();
        $this->assertSame("127.0.0.1:{$first->port()}", $status['server'], 'past the dead one at once');
        $this->assertSame($dead, $status['servers'][0]['server']);
        $this->assertStringContainsString('Connection refused', (string) $status['servers'][0]['last_error']);
        $this->assertNull($status['servers'][1]['last_error']);

        $sent = [];
        for ($i = 0; $i < 200; $i++) {
            $client->publish($topic, $sent[] = "m-$i");
            if ($i === 99) {
                $this->assertTrue($client->flush(self::WAIT));
                $first->stop();
            }
            usleep(2000);
        }
        $this->assertTrue($client->flush(self::WAIT), json_encode($client->status()));

        $status = $client->status();
        $this->assertSame("127.0.0.1:{$second->port()}", $status['server'], json_encode($status));
        $this->assertSame($second->port(), $status['port']);
        $this->assertNotNull($status['servers'][1]['last_error'], 'the killed server says why it was left');
        $onSecond->waitFor(100);
        $onSecond->sync();
        $arrived = array_unique([...$onFirst->payloads(), ...$onSecond->payloads()]);
        $this->assertSame([], array_values(array_diff($sent, $arrived)), 'every message arrived at one of the servers');
        $this->assertContains('m-199', $onSecond->payloads());
    }

    public function testServerOrderRandomSpreadsConnectionsOverTheServers(): void
    {
        [$first, $second] = [$this->ownBroker(), $this->ownBroker()];
        $servers = ["127.0.0.1:{$first->port()}", "127.0.0.1:{$second->port()}"];
        $used = [];
        for ($i = 0; $i < 20; $i++) {
            $client = $this->client($this->options(['servers' => $servers, 'server_order' => 'random']));
            $this->assertTrue($client->waitConnected(self::WAIT));
            $used[$client->status()['server']] = true;
            $this->assertSame($client->status()['server'], $client->status()['servers'][0]['server'], 'its first server in its own order');
        }
        $this->assertEqualsCanonicalizing($servers, array_keys($used), 'both servers got connections');

        $inOrder = $this->client($this->options(['servers' => array_reverse($servers)]));
        $this->assertTrue($inOrder->waitConnected(self::WAIT));
        $this->assertSame($servers[1], $inOrder->status()['server'], 'in order: the first one');
    }

    public function testCredentialsInAUrlAreUsedAndNeverShown(): void
    {
        $secure = SecureBroker::withPasswords(['app' => 'p@ss:word']);
        $broker = $secure->broker();
        $right = $this->client($this->options(['url' => "mqtt://app:p%40ss%3Aword@127.0.0.1:{$broker->port()}"]));
        $this->assertTrue($right->waitConnected(self::WAIT), json_encode($right->status()));
        $wrong = $this->client($this->options(['url' => "mqtt://app:hunter2@127.0.0.1:{$broker->port()}", 'reconnect' => ['max_retries' => 1, 'initial_delay' => 0.1]]));
        $deadline = microtime(true) + self::WAIT;
        while ($wrong->status()['last_error'] === null && microtime(true) < $deadline) {
            usleep(20_000);
        }
        foreach ([$right->status(), $wrong->status()] as $status) {
            $this->assertStringNotContainsString('p@ss', json_encode($status));
            $this->assertStringNotContainsString('hunter2', json_encode($status));
        }
        $this->assertStringContainsString('not authori', (string) $wrong->status()['last_error']);
    }

    public function testBadServerEntriesAreConfigErrorsNamingThem(): void
    {
        foreach ([
            [['servers' => []], 'option "servers" must name at least one server'],
            [['servers' => 'broker:1883'], 'option "servers" must be a list of servers'],
            [['servers' => ['a:1883', 'gopher://b']], 'option "servers.1" has an unknown scheme'],
            [['servers' => ['ws://b:80/mqtt#x']], 'option "servers.0" must not have a fragment'],
            [['servers' => [':1883']], 'option "servers.0" has no host'],
            [['servers' => ['b:70000']], 'option "servers.0" has a port that is not a number from 1 to 65535'],
            [['servers' => [1883]], 'option "servers.0" must be "host:port" or an mqtt://, mqtts://, ws:// or wss:// URL'],
            [['url' => 'mqtt://app:secret@b:0'], 'option "url" has a port that is not a number from 1 to 65535, got "mqtt://***@b:0"'],
            [['url' => 'b', 'servers' => ['c']], 'option "url" cannot be given with option "servers"'],
            [['url' => 'b', 'host' => 'c'], 'option "host" cannot be given with option "servers" or "url"'],
            [['servers' => ['b'], 'server_order' => 'sorted'], 'option "server_order" must be "in_order" or "random"'],
        ] as [$options, $expected]) {
            try {
                new Client($options, 'bad-' . $this->uniq());
                $this->fail('accepted ' . json_encode($options));
            } catch (ConfigException $e) {
                $this->assertStringStartsWith($expected, $e->getMessage());
                $this->assertStringNotContainsString('secret', $e->getMessage());
            }
        }
    }
}
