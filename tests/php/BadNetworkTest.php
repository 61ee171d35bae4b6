<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\ImpairedLink;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\NetworkNamespace;
use MqttBroadcast\Tests\Support\PhpChild;

/**
 * Connections over bad networks. The client runs in a network namespace of its
 * own and reaches the broker over a veth pair through ImpairedLink, a relay that
 * delays, stalls and blackholes in user space (this kernel has no sch_netem);
 * an independent subscriber on the broker itself sees what got through.
 */
final class BadNetworkTest extends MqttTestCase
{
    private const KEEP_ALIVE = 2;

    public function testAQos1StreamOverALinkWith200msRoundTripsAndLossGetsEverythingThrough(): void
    {
        [$namespace, $link, $broker] = $this->linkedNamespace();
        $topic = $this->topic('lossy');
        $listener = $this->listen($topic, $broker);
        // 100 ms each way, and one chunk in 20 held 300 ms more, with what follows it:
        // a 200 ms round trip with 5% of the segments retransmitted after Linux's minimum RTO.
        $link->degrade(0.1, 0.05, 0.3);

        $count = 300;
        $child = $this->startClient($namespace, $link, <<<PHP
            for (\$i = 0; \$i < $count; \$i++) {
                \$client->publish(TOPIC, "l-\$i");
                usleep(10_000);
            }
            echo \$client->flush(60.0) ? "flushed\\n" : 'not flushed ' . json_encode(\$client->status()) . "\\n";
            PHP, $topic, ['qos' => 1]);
        $child->waitUntil(fn (array $lines) => preg_grep('/flushed/', $lines) !== [], 90.0, 'the stream is flushed');
        $this->assertContains('flushed', $child->lines(), $child->describe());

        $expected = array_map(fn (int $i) => "l-$i", range(0, $count - 1));
        $listener->waitFor($count, 30.0);
        $this->assertSame([], array_values(array_diff($expected, $listener->payloads())), 'every message got through');
    }

    public function testABlackholeIsNoticedByTheKeepAliveAndWhatWasQueuedGoesOutOnceTheLinkIsBack(): void
    {
        [$namespace, $link, $broker] = $this->linkedNamespace();
        $topic = $this->topic('blackhole');
        $listener = $this->listen($topic, $broker);
        $go = $broker->dir() . '/go';
        $syncTimeout = 1.0;

        $child = $this->startClient($namespace, $link, sprintf(<<<'PHP'
            while (!file_exists(%s)) {
                usleep(5_000);
            }
            $start = microtime(true);
            try {
                $client->publishSync(TOPIC, 'sync', 1, null, %F);
                echo "published\n";
            } catch (Mqtt\TimeoutException $e) {
                printf("timeout after %%.3f\n", microtime(true) - $start);
            }
            for ($i = 0; $i < 20; $i++) {
                $client->publish(TOPIC, "q-$i");
            }
            echo "queued\n";
            $lost = false;
            $deadline = microtime(true) + 60.0;
            while (microtime(true) < $deadline) {
                foreach ($client->events() as $event) {
                    printf("event %%s %%.3f %%s\n", $event->type, $event->at, $event->reason ?? '');
                    $lost = $lost || $event->type === 'disconnected';
                    if ($lost && $event->type === 'connected') {
                        break 2;
                    }
                }
                usleep(10_000);
            }
            echo $client->flush(20.0) ? "flushed\n" : 'not flushed ' . json_encode($client->status()) . "\n";
            PHP, var_export($go, true), $syncTimeout), $topic, ['qos' => 1, 'keep_alive' => self::KEEP_ALIVE, 'connect_timeout' => 2]);

        $blackholedAt = microtime(true);
        $link->blackhole();
        touch($go);
        $child->waitForLine('queued', 10.0);
        $child->waitUntil(fn () => $this->eventTimes($child, 'disconnected') !== [], 10.0, 'the keep-alive notices the blackhole');
        $noticedAfter = $this->eventTimes($child, 'disconnected')[0] - $blackholedAt;
        usleep((int) (max(0.0, $blackholedAt + 10.0 - microtime(true)) * 1e6));
        $link->heal();
        $child->waitUntil(fn (array $lines) => preg_grep('/flushed/', $lines) !== [], 40.0, 'the queue is flushed after the link came back');

        $lines = $child->lines();
        $this->assertContains('flushed', $lines, $child->describe());
        $timeout = preg_grep('/^timeout after /', $lines);
        $this->assertCount(1, $timeout, 'publishSync() failed with Mqtt\TimeoutException: ' . $child->describe());
        $this->assertLessThan($syncTimeout + 0.5, (float) substr(reset($timeout), strlen('timeout after ')), 'within its timeout');
        $this->assertLessThanOrEqual(1.5 * self::KEEP_ALIVE, $noticedAfter, 'the keep-alive noticed the dead link within 1.5 keep_alive: ' . $child->describe());

        $expected = ['sync', ...array_map(fn (int $i) => "q-$i", range(0, 19))];
        $listener->waitFor(count($expected), 30.0);
        $this->assertSame([], array_values(array_diff($expected, $listener->payloads())), 'everything queued was delivered');
        fwrite(STDERR, sprintf("\nBadNetworkTest: a blackhole was noticed by the keep-alive (keep_alive %d s) after %.2f s\n", self::KEEP_ALIVE, $noticedAfter));
    }

    public function testWhenOnlyTheAcknowledgementsAreLostMessagesArriveAndAreSentAgain(): void
    {
        [$namespace, $link, $broker] = $this->linkedNamespace();
        $topic = $this->topic('one-way');
        $listener = $this->listen($topic, $broker);
        $go = $broker->dir() . '/go';

        $child = $this->startClient($namespace, $link, sprintf(<<<'PHP'
            while (!file_exists(%s)) {
                usleep(5_000);
            }
            for ($i = 0; $i < 20; $i++) {
                $client->publish(TOPIC, "o-$i");
            }
            echo "queued\n";
            $lost = false;
            $deadline = microtime(true) + 60.0;
            while (microtime(true) < $deadline) {
                foreach ($client->events() as $event) {
                    printf("event %%s %%.3f %%s\n", $event->type, $event->at, $event->reason ?? '');
                    $lost = $lost || $event->type === 'disconnected';
                    if ($lost && $event->type === 'connected') {
                        break 2;
                    }
                }
                usleep(10_000);
            }
            echo $client->flush(20.0) ? "flushed\n" : 'not flushed ' . json_encode($client->status()) . "\n";
            PHP, var_export($go, true)), $topic, ['qos' => 1, 'keep_alive' => self::KEEP_ALIVE, 'connect_timeout' => 2]);

        $link->blackhole(up: false, down: true);
        touch($go);
        $expected = array_map(fn (int $i) => "o-$i", range(0, 19));
        $listener->waitFor(count($expected), 10.0);
        $this->assertSame([], array_values(array_diff($expected, $listener->payloads())), 'the messages reached the broker; only its acknowledgements were lost');
        $child->waitUntil(fn () => $this->eventTimes($child, 'disconnected') !== [], 10.0, 'the keep-alive notices that nothing comes back');
        $link->heal();
        $child->waitUntil(fn (array $lines) => preg_grep('/flushed/', $lines) !== [], 40.0, 'the queue is flushed after the link came back');
        $this->assertContains('flushed', $child->lines(), $child->describe());

        $listener->sync();
        $again = count($listener->payloads()) - count($expected);
        $this->assertGreaterThan(0, $again, 'what the broker never acknowledged was sent again');
        $this->assertSame([], array_values(array_diff($listener->payloads(), $expected)), 'and nothing else');
    }

    public function testAServerThatNeverAnswersConnectRunsIntoConnectTimeout(): void
    {
        // The kernel completes the TCP handshake for the backlog; nobody reads the CONNECT.
        $server = stream_socket_server('tcp://127.0.0.1:0');
        $port = (int) parse_url('tcp://' . stream_socket_get_name($server, false), PHP_URL_PORT);
        $client = $this->client([
            'host' => '127.0.0.1',
            'port' => $port,
            'client_id' => 'php-' . $this->uniq(),
            'connect_timeout' => 1,
            'reconnect' => ['initial_delay' => 0.1, 'max_delay' => 1.0],
        ]);

        $this->assertFalse($client->waitConnected(1.5));
        $deadline = microtime(true) + 10.0;
        while ($client->status()['last_error'] === null && microtime(true) < $deadline) {
            usleep(20_000);
        }
        $this->assertStringContainsString('timed out', (string) $client->status()['last_error'], json_encode($client->status()));
        fclose($server);
    }

    /** @return array{0: NetworkNamespace, 1: ImpairedLink, 2: Broker} a broker, and a namespace reaching it through an impaired link */
    private function linkedNamespace(): array
    {
        if (($reason = NetworkNamespace::unavailable()) !== null) {
            $this->markTestSkipped($reason);
        }
        $broker = $this->ownBroker();
        $namespace = NetworkNamespace::create();
        return [$namespace, ImpairedLink::start($namespace->hostAddress(), $broker), $broker];
    }

    /**
     * A client in the namespace, connected through the link, then running $body
     * (with $client, and TOPIC defined).
     */
    private function startClient(NetworkNamespace $namespace, ImpairedLink $link, string $body, string $topic, array $options): PhpChild
    {
        $options = $this->options(['host' => $link->host(), 'port' => $link->port()] + $options);
        $child = PhpChild::start(sprintf(<<<'PHP'
            const TOPIC = %s;
            $client = new Mqtt\Client(%s, 'link');
            echo $client->waitConnected(20.0) ? "connected\n" : 'not connected ' . json_encode($client->status()) . "\n";
            $client->events();
            %s
            PHP, var_export($topic, true), var_export($options, true), $body), [], $namespace->commandPrefix());
        $child->waitForLine('connected', 30.0);
        return $child;
    }

    /** @return list<float> when the child saw events of that type */
    private function eventTimes(PhpChild $child, string $type): array
    {
        $times = [];
        foreach ($child->lines() as $line) {
            if (preg_match('/^event ' . $type . ' (\S+)/', $line, $match)) {
                $times[] = (float) $match[1];
            }
        }
        return $times;
    }
}
