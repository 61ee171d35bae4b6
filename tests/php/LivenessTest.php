<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\MqttException;
use Mqtt\TimeoutException;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpChild;
use MqttBroadcast\Tests\Support\StreamPublisher;

/**
 * Two ways a connection used to stop making progress, with real processes: a
 * real mosquitto, and subscribers that are real child PHP processes.
 *
 * @group protocol
 */
final class LivenessTest extends MqttTestCase
{
    private const BURST = 20_000;
    /**
     * While a client is connected, the broker never has more than this many QoS 1
     * messages sent to it and not acknowledged (mosquitto's max_inflight_messages,
     * its default, written out because the duplicate bound rests on it).
     */
    private const BROKER_MAX_INFLIGHT = 20;
    /**
     * The daemon's max_inbox: below BROKER_MAX_INFLIGHT, so that what the broker
     * sends before it reads the SUBSCRIBE overflows the inbox on every Mosquitto
     * 2.x (see the test).
     */
    private const DAEMON_MAX_INBOX = 10;
    /** Messages the first run handles before it is killed. */
    private const HANDLED_BEFORE_KILL = 5000;

    /**
     * A daemon with a persistent session is SIGKILLed while it drains a burst of
     * 20,000 QoS 1 messages. When the next start with the same client_id
     * connects, mosquitto sends what it kept for the session at once, before it
     * reads the SUBSCRIBE: as many as its in-flight window allows (20; Mosquitto
     * 2.0.11 miscounts the window and sends some 15,000), more than the daemon's
     * inbox holds (DAEMON_MAX_INBOX), so the SUBACK of its subscribe() comes
     * behind a full inbox. It must still get through subscribe() to loop(), and
     * between them the two runs handle every message.
     *
     * Duplicates: a message the first run handled comes again only if the broker
     * had no PUBACK for it when the run died, that is, if it was among the
     * broker's in-flight messages to that client, of which there are at most
     * max_inflight_messages. So at most BROKER_MAX_INFLIGHT of the thousands of
     * messages the first run handled are handled twice, as long as each
     * acknowledgement goes out when its handler returns (not held back while the
     * inbox is full).
     */
    public function testKilledPersistentSubscriberComesBackThroughTheFloodAndLosesNothing(): void
    {
        $broker = Broker::start(['max_inflight_messages ' . self::BROKER_MAX_INFLIGHT]);
        $topic = $this->topic('burst');
        // MQTT 3.1.1: for MQTT 5 clients the receive maximum they announce plays the part of max_inflight_messages.
        $options = $this->options([
            'client_id' => 'liveness-' . $this->uniq(),
            'clean_session' => false,
            'qos' => 1,
            'protocol' => '3.1.1',
        ], $broker);

        // Slow (at least 0.5 ms a message), so that it is still draining when killed.
        $first = $this->startDaemon($options, $topic, 500);
        $first->waitForLine('subscribed', 30.0);
        $publisher = StreamPublisher::start($broker, $topic, array_map(static fn (int $i) => "m-$i", range(1, self::BURST)));
        $first->waitUntil(
            static fn (array $lines) => count($lines) > self::HANDLED_BEFORE_KILL,
            60.0,
            'the first run handled ' . self::HANDLED_BEFORE_KILL . ' messages'
        );
        $first->kill();
        // The broker keeps the rest for the session (max_queued_messages 0).
        $publisher->wait(120.0);
        $handledFirst = self::handled($first);
        $this->assertLessThan(
            self::BURST - 5000,
            count($handledFirst),
            'the first run was still draining when killed (the test needs a backlog larger than the inbox)'
        );

        $second = $this->startDaemon($options, $topic, 0);
        $second->waitUntil(
            static fn (array $lines) => in_array('subscribed', $lines, true) || preg_grep('/^subscribe failed/', $lines) !== [],
            60.0,
            'the restarted daemon got through subscribe()'
        );
        $this->assertNotContains(
            'subscribe failed',
            array_map(static fn (string $line) => substr($line, 0, 16), $second->lines()),
            "the restarted daemon did not get through subscribe() while the broker re-sent its session:\n"
            . $second->describe() . "\nbroker log:\n" . Failure::tail($broker->log(), 20)
        );
        $deadline = microtime(true) + 120.0;
        do {
            $seen = array_unique(array_merge($handledFirst, self::handled($second)));
            if (count($seen) >= self::BURST || !$second->isRunning()) {
                break;
            }
            usleep(100_000);
        } while (microtime(true) < $deadline);
        $second->signal(SIGTERM);
        $this->assertTrue($second->wait(20.0), "SIGTERM (stop()) ended the restarted daemon:\n" . $second->describe());
        $this->assertSame(0, $second->exitCode(), $second->describe());
        $handledSecond = self::handled($second);

        $this->assertGreaterThan(
            self::DAEMON_MAX_INBOX,
            self::publishesBeforeSubscribe($broker, $options['client_id'], 2),
            'the premise: on the restart the broker re-sent more than the inbox holds (max_inbox ' . self::DAEMON_MAX_INBOX . ') before it read the SUBSCRIBE'
        );
        $missing = array_diff(array_map(static fn (int $i) => "m-$i", range(1, self::BURST)), $handledFirst, $handledSecond);
        $this->assertSame([], array_slice(array_values($missing), 0, 20), sprintf(
            "%d of %d messages were never handled (first run %d, second run %d); the first missing shown\n%s",
            count($missing),
            self::BURST,
            count($handledFirst),
            count($handledSecond),
            $second->describe()
        ));
        $again = array_intersect($handledSecond, $handledFirst);
        $duplicates = count($handledFirst) + count($handledSecond) - self::BURST;
        $this->assertLessThanOrEqual(self::BROKER_MAX_INFLIGHT, $duplicates, sprintf(
            '%d messages were handled twice (%d of the %d the killed run had handled came again); the broker had at most %d in flight',
            $duplicates,
            count(array_unique($again)),
            count($handledFirst),
            self::BROKER_MAX_INFLIGHT
        ));
    }

    /**
     * Over MQTT 3.1.1 a broker has no way to say "too large" but to close the
     * connection, as mosquitto does for a packet over its max_packet_size (its
     * message_size_limit instead acknowledges and drops the message, which no
     * client can tell). One oversized QoS 1 message among 100 others must not stall
     * the others nor make the connection reconnect over and over: the others
     * arrive, reconnections back off, status() counts the refused message and
     * says why, and publishSync() of an oversized message fails instead of
     * waiting for its timeout.
     */
    public function testAMessageOverTheBrokersSizeLimitIsRefusedWithoutStallingOrReconnectingInALoop(): void
    {
        $broker = Broker::start(['max_packet_size 1000']);
        $topic = $this->topic('sizes');
        $listener = $this->listen($topic, $broker);
        $clientId = 'oversized-' . $this->uniq();
        // Our own max_packet_size (8 MB by default) lets it through: only the broker refuses it.
        $client = $this->client($this->options([
            'client_id' => $clientId,
            'protocol' => '3.1.1',
            'qos' => 1,
            'reconnect' => ['initial_delay' => 0.1, 'max_delay' => 2.0, 'max_retries' => 0],
        ], $broker));
        $big = str_repeat('B', 5000);

        $started = microtime(true);
        for ($i = 1; $i <= 50; $i++) {
            $client->publish($topic, "small-$i");
        }
        $client->publish($topic, $big);
        for ($i = 51; $i <= 100; $i++) {
            $client->publish($topic, "small-$i");
        }

        $expected = array_map(static fn (int $i) => "small-$i", range(1, 100));
        $deadline = microtime(true) + 30.0;
        while (array_diff($expected, $listener->payloads()) !== [] && microtime(true) < $deadline) {
            usleep(50_000);
        }
        $this->assertSame([], array_values(array_diff($expected, $listener->payloads())), sprintf(
            "the messages around the oversized one did not all arrive within 30 s\nstatus: %s\nbroker log:\n%s",
            json_encode($client->status()),
            Failure::tail($broker->log(), 20)
        ));
        $deadline = microtime(true) + 30.0;
        while ($client->status()['refused'] < 1 && microtime(true) < $deadline) {
            usleep(50_000);
        }
        // Some more time in which a connection stuck on the message would go on reconnecting.
        usleep(3_000_000);

        $status = $client->status();
        $this->assertSame(1, $status['refused'], 'status() counts the refused message: ' . json_encode($status));
        $this->assertIsString($status['last_error'], json_encode($status));
        $this->assertMatchesRegularExpression('/too large|size|limit/i', $status['last_error'], 'last_error says why');
        $this->assertSame(0, $status['queued'] + $status['in_flight'], 'nothing is stuck behind it: ' . json_encode($status));
        // Backing off from 0.1 s, doubling up to 2 s (jitter at most halving a
        // delay), allows about 6 attempts in the first 2 s and then one a
        // second. A connection reconnecting each time the message is re-sent
        // makes about 13 a second.
        $elapsed = microtime(true) - $started;
        $connections = $broker->connectionCount($clientId);
        $this->assertLessThanOrEqual(6 + (int) ceil($elapsed), $connections, sprintf(
            "%d connections in %.1f s: the connection does not back off\nbroker log:\n%s",
            $connections,
            $elapsed,
            Failure::tail($broker->log(), 20)
        ));
        $listener->sync();
        $this->assertNotContains($big, $listener->payloads(), 'the broker dropped it');

        try {
            $client->publishSync($topic, $big, 1, null, 20.0);
            $this->fail('publishSync() of a message over the broker\'s limit returned');
        } catch (TimeoutException $e) {
            $this->fail('publishSync() of a message over the broker\'s limit waited for its timeout: ' . $e->getMessage());
        } catch (MqttException $e) {
            $this->assertMatchesRegularExpression('/too large|size|limit/i', $e->getMessage());
        }
        $client->publishSync($topic, 'after', 1, null, 20.0);
        $listener->sync();
        $this->assertContains('after', $listener->payloads(), 'the connection still works');
    }

    /**
     * A daemon in a child PHP process (a Subscriber with max_inbox
     * DAEMON_MAX_INBOX): waits until connected, subscribes to $topic (QoS 1), prints "subscribed" (or "subscribe failed: ..." and exits),
     * then loop()s, printing "got <payload>" per message and sleeping $sleepMicros
     * in the handler, until SIGTERM calls stop().
     */
    private function startDaemon(array $options, string $topic, int $sleepMicros): PhpChild
    {
        return PhpChild::start(sprintf(<<<'PHP'
            $client = new Mqtt\Client(%s, 'daemon');
            $subscriber = new Mqtt\Subscriber([$client], ['max_inbox' => %d]);
            pcntl_async_signals(true);
            pcntl_signal(SIGTERM, fn () => $subscriber->stop());
            $deadline = microtime(true) + 20.0;
            while (!$client->status()['connected'] && microtime(true) < $deadline) {
                usleep(5_000);
            }
            try {
                $subscriber->subscribe(%s, 1, 10.0);
            } catch (Mqtt\MqttException $e) {
                echo 'subscribe failed: ', get_class($e), ': ', $e->getMessage(), "\n";
                exit(1);
            }
            echo "subscribed\n";
            $handled = $subscriber->loop(function (Mqtt\Message $message): void {
                echo 'got ', $message->payload, "\n";
                if (%d > 0) {
                    usleep(%d);
                }
            }, timeout: 300.0);
            echo "stopped after $handled\n";
            PHP, var_export($options, true), self::DAEMON_MAX_INBOX, var_export($topic, true), $sleepMicros, $sleepMicros));
    }

    /**
     * How many PUBLISH packets the broker sent to $clientId on its $nth connection
     * before it read that connection's first SUBSCRIBE (mosquitto logs both).
     */
    private static function publishesBeforeSubscribe(Broker $broker, string $clientId, int $nth): int
    {
        $broker->requireMosquitto('a log line for each PUBLISH it sends (log_type all)');
        $connection = 0;
        $sent = 0;
        foreach (explode("\n", $broker->log()) as $line) {
            if (preg_match('/New client connected from \S+ as ' . preg_quote($clientId, '/') . ' \(/', $line)) {
                $connection++;
            } elseif ($connection === $nth && str_contains($line, "Sending PUBLISH to $clientId ")) {
                $sent++;
            } elseif ($connection === $nth && str_contains($line, "Received SUBSCRIBE from $clientId")) {
                break;
            }
        }
        return $sent;
    }

    /** @return list<string> the payloads the daemon printed it handled */
    private static function handled(PhpChild $daemon): array
    {
        $handled = [];
        foreach ($daemon->lines() as $line) {
            if (str_starts_with($line, 'got ')) {
                $handled[] = substr($line, 4);
            }
        }
        return $handled;
    }
}
