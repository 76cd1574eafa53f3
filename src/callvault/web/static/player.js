/* callvault: the Listen page's player (templates/listen.html).

   The audio is fetched once from the API (that request is the audited listen) and played from
   a Blob URL; the same bytes are decoded to draw the waveform, one lane per channel, with the
   muted spans shaded. Nothing here is inline: the page's policy allows only scripts from this
   origin and no style attributes, so sizes and colours come from player.css and the canvas.

   The contract a browser test relies on:
   - #listen[data-state] goes "loading" -> "ready" (the audio's metadata loaded, it can play)
     or "error" (#player-error, role=alert, says why);
   - #waveform[data-drawn="true"] once the decoded waveform is on the canvas;
   - a transcript button (#transcript button[data-start]) seeks there and plays; the one
     being heard has aria-current="true".
*/
(function () {
  "use strict";

  var root = document.getElementById("listen");
  var audio = document.getElementById("player");
  if (!root || !audio) {
    return;
  }
  var statusLine = document.getElementById("player-status");
  var errorBox = document.getElementById("player-error");
  var canvas = document.getElementById("waveform");
  var transcript = document.getElementById("transcript");
  var follow = document.getElementById("follow");

  // Lanes from the recording's channel map, top to bottom: ids pick the colours (app.css
  // --caller, --agent), labels are what the lanes say.
  var channelIds = (root.getAttribute("data-channels") || "").split(" ").filter(Boolean);
  var channelLabels = (root.getAttribute("data-channel-labels") || "").split("|").filter(Boolean);
  var listedDuration = parseFloat(root.getAttribute("data-duration")) || 0;
  var accessLeft = parseFloat(root.getAttribute("data-access-left-s"));

  var spans = Array.prototype.map.call(
    document.querySelectorAll("#muted-spans li[data-start]"),
    function (item) {
      return { start: parseFloat(item.getAttribute("data-start")), end: parseFloat(item.getAttribute("data-end")) };
    }
  );
  var segments = transcript
    ? Array.prototype.map.call(transcript.querySelectorAll("button[data-start]"), function (button) {
        return {
          button: button,
          start: parseFloat(button.getAttribute("data-start")),
          end: parseFloat(button.getAttribute("data-end"))
        };
      })
    : [];

  var reduceMotion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;
  var blobUrl = null;
  var ready = false;
  var pendingSeek = null;
  var decoded = null; // { channels: [Float32Array...], duration: seconds }
  var layer = null; // the waveform drawn once per size; the playhead is drawn over a copy
  var current = null; // the transcript segment being heard
  var lastInteraction = -Infinity;
  var frame = 0;
  var ended = false;

  // -- state and messages -------------------------------------------------------------------
  function setState(state) {
    root.setAttribute("data-state", state);
  }

  function say(text) {
    if (statusLine) {
      statusLine.textContent = text;
    }
  }

  function fail(message) {
    setState("error");
    say("The recording is not available.");
    if (errorBox) {
      errorBox.textContent = message;
      errorBox.hidden = false;
    }
  }

  function clock(seconds) {
    var whole = Math.max(0, Math.floor(seconds));
    var rest = whole % 60;
    return Math.floor(whole / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function duration() {
    if (decoded) {
      return decoded.duration;
    }
    if (isFinite(audio.duration) && audio.duration > 0) {
      return audio.duration;
    }
    return listedDuration;
  }

  // -- loading: one fetch for both the player and the waveform --------------------------------
  function load() {
    setState("loading");
    var url = root.getAttribute("data-audio-url");
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          return response
            .json()
            .catch(function () {
              return {};
            })
            .then(function (body) {
              var reason = body && body.error ? " (" + body.error + ")" : "";
              throw new Error(
                response.status === 403 || response.status === 401
                  ? "You may not hear this recording now" + reason + ". Reload the page to check your access."
                  : "The server could not send the recording" + reason + ". Try again later."
              );
            });
        }
        return response.arrayBuffer();
      }, function () {
        throw new Error("The recording could not be loaded: the server did not answer. Check your connection, then reload the page.");
      })
      .then(function (bytes) {
        if (ended) {
          return;
        }
        // The Blob keeps its own copy, so the decoder may take (detach) these bytes.
        blobUrl = URL.createObjectURL(new Blob([bytes], { type: "audio/ogg" }));
        audio.preload = "auto"; // the bytes are here already: nothing more is fetched
        audio.src = blobUrl;
        decodeWaveform(bytes);
      })
      .catch(function (error) {
        fail(error && error.message ? error.message : "The recording could not be loaded.");
      });
  }

  audio.addEventListener("loadedmetadata", function () {
    if (ready || ended) {
      return;
    }
    ready = true;
    setState("ready");
    say("Ready to play. The recording is " + clock(duration()) + " long.");
    if (pendingSeek !== null) {
      var at = pendingSeek;
      pendingSeek = null;
      seek(at, true);
    }
    paint();
  });

  audio.addEventListener("error", function () {
    // A removed source after access ended also fires this: that message stays.
    if (!blobUrl || ended) {
      return;
    }
    fail("This browser cannot play the recording (Ogg Opus audio). Try a current version of Firefox, Chrome or Edge.");
  });

  function decodeWaveform(bytes) {
    var Offline = window.OfflineAudioContext || window.webkitOfflineAudioContext;
    if (!Offline) {
      waveformMissing();
      return;
    }
    // Decoded at 8 kHz (the telephone's own rate): an hour-long call stays a few hundred MB
    // instead of gigabytes, and an offline context needs no user gesture to start.
    var context;
    try {
      context = new Offline(Math.max(1, channelIds.length), 1, 8000);
    } catch (error) {
      waveformMissing();
      return;
    }
    new Promise(function (resolve, reject) {
      var promise = context.decodeAudioData(bytes, resolve, reject);
      if (promise && promise.then) {
        promise.then(resolve, reject);
      }
    }).then(
      function (buffer) {
        var channels = [];
        for (var c = 0; c < buffer.numberOfChannels; c += 1) {
          channels.push(buffer.getChannelData(c));
        }
        decoded = { channels: channels, duration: buffer.duration };
        layer = null;
        paint();
        if (canvas) {
          canvas.setAttribute("data-drawn", "true");
        }
      },
      function () {
        waveformMissing();
      }
    );
  }

  function waveformMissing() {
    if (canvas) {
      canvas.setAttribute("data-drawn", "false");
      canvas.setAttribute("aria-label", "The waveform could not be drawn in this browser; the muted parts are listed below.");
    }
  }

  // -- the waveform ---------------------------------------------------------------------------
  function colour(name, fallback) {
    var value = window.getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function laneColour(id) {
    if (id === "caller") {
      return colour("--caller", "#0b4f8a");
    }
    if (id === "agent") {
      return colour("--agent", "#7a3e00");
    }
    return colour("--ink", "#1b1f24");
  }

  function drawLayer(width, height, ratio) {
    var surface = document.createElement("canvas");
    surface.width = width;
    surface.height = height;
    var g = surface.getContext("2d");
    var ink = colour("--ink", "#1b1f24");
    var line = colour("--line", "#b8c0c8");
    var total = duration();
    var lanes = decoded ? decoded.channels.length : Math.max(1, channelIds.length);
    var laneHeight = height / lanes;

    g.fillStyle = "#ffffff";
    g.fillRect(0, 0, width, height);

    // Muted spans under the waveform, across every lane: the speech job mutes an item on
    // every channel (a headset leaks; an advisor reads numbers back).
    if (total > 0) {
      g.fillStyle = colour("--muted-span", "rgba(179, 38, 30, 0.25)");
      g.strokeStyle = colour("--danger", "#b3261e");
      g.lineWidth = Math.max(1, ratio);
      spans.forEach(function (span) {
        var from = (span.start / total) * width;
        var to = Math.max(from + 2 * ratio, (span.end / total) * width);
        g.fillRect(from, 0, to - from, height);
        g.beginPath();
        g.moveTo(from + 0.5, 0);
        g.lineTo(from + 0.5, height);
        g.moveTo(to - 0.5, 0);
        g.lineTo(to - 0.5, height);
        g.stroke();
      });
    }

    var gain = decoded ? loudness(decoded.channels) : 1;
    for (var lane = 0; lane < lanes; lane += 1) {
      var top = lane * laneHeight;
      var middle = top + laneHeight / 2;
      g.fillStyle = line;
      g.fillRect(0, Math.round(middle), width, Math.max(1, Math.round(ratio / 2)));
      if (lane > 0) {
        g.fillStyle = ink;
        g.fillRect(0, Math.round(top), width, Math.max(1, Math.round(ratio)));
      }
      if (decoded) {
        var data = decoded.channels[lane];
        var perColumn = data.length / width;
        g.fillStyle = laneColour(channelIds[lane]);
        for (var x = 0; x < width; x += 1) {
          var from = Math.floor(x * perColumn);
          var to = Math.min(data.length, Math.max(from + 1, Math.floor((x + 1) * perColumn)));
          var low = 0;
          var high = 0;
          for (var i = from; i < to; i += 1) {
            var v = data[i];
            if (v < low) {
              low = v;
            } else if (v > high) {
              high = v;
            }
          }
          var half = (laneHeight / 2) * 0.9;
          var y0 = middle - Math.min(1, high * gain) * half;
          var y1 = middle - Math.max(-1, low * gain) * half;
          g.fillRect(x, y0, 1, Math.max(1, y1 - y0));
        }
      }
      // The lane's label on a white tab, so it reads over the waveform.
      var label = channelLabels[lane] || "Channel " + (lane + 1);
      g.font = "600 " + Math.round(13 * ratio) + "px system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";
      var textWidth = g.measureText(label).width;
      g.fillStyle = "#ffffff";
      g.fillRect(4 * ratio, top + 4 * ratio, textWidth + 8 * ratio, 18 * ratio);
      g.fillStyle = laneColour(channelIds[lane]);
      g.textBaseline = "middle";
      g.fillText(label, 8 * ratio, top + 13 * ratio);
    }
    return surface;
  }

  function loudness(channels) {
    // One gain for all lanes (their levels stay comparable), so the loudest peak fills
    // 90 % of a lane; capped so that near-silence is not blown up into noise.
    var peak = 0;
    channels.forEach(function (data) {
      for (var i = 0; i < data.length; i += 1) {
        var v = data[i] < 0 ? -data[i] : data[i];
        if (v > peak) {
          peak = v;
        }
      }
    });
    return peak > 0 ? Math.min(8, 1 / peak) : 1;
  }

  function paint() {
    if (!canvas || !canvas.getContext) {
      return;
    }
    var ratio = window.devicePixelRatio || 1;
    var width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    var height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
      layer = null;
    }
    if (!layer) {
      layer = drawLayer(width, height, ratio);
    }
    var g = canvas.getContext("2d");
    g.drawImage(layer, 0, 0);
    var total = duration();
    if (total > 0) {
      var x = Math.min(width - ratio, (audio.currentTime / total) * width);
      g.fillStyle = colour("--ink", "#1b1f24");
      g.fillRect(Math.max(0, x - ratio), 0, 2 * ratio, height);
    }
  }

  function schedulePaint() {
    if (!frame) {
      frame = window.requestAnimationFrame(function () {
        frame = 0;
        paint();
        highlight(audio.currentTime);
        if (!audio.paused) {
          schedulePaint(); // keeps the playhead moving smoothly while it plays
        }
      });
    }
  }

  // -- seeking ------------------------------------------------------------------------------
  function seek(seconds, play) {
    var at = Math.max(0, seconds);
    if (!ready) {
      pendingSeek = at;
      say("The recording is still loading; it will start at " + clock(at) + ".");
      return;
    }
    audio.currentTime = at;
    highlight(at);
    schedulePaint();
    if (play) {
      var playing = audio.play();
      if (playing && playing.catch) {
        playing.catch(function () {
          // Refused (no user gesture behind it): the controls are there to press play.
        });
      }
    }
  }

  if (canvas) {
    canvas.addEventListener("click", function (event) {
      var box = canvas.getBoundingClientRect();
      var total = duration();
      if (box.width > 0 && total > 0) {
        seek(((event.clientX - box.left) / box.width) * total, false);
      }
    });
  }

  // -- the transcript -------------------------------------------------------------------------
  function heard(segment, seconds) {
    return segment.start <= seconds && seconds < segment.end;
  }

  function highlight(seconds) {
    // Where the two parties overlap, the line already marked stays marked until it ends.
    if (current && heard(current, seconds)) {
      return;
    }
    var found = null;
    for (var i = 0; i < segments.length && !found; i += 1) {
      if (heard(segments[i], seconds)) {
        found = segments[i];
      }
    }
    mark(found);
  }

  function mark(segment) {
    if (segment === current) {
      return;
    }
    if (current) {
      current.button.removeAttribute("aria-current");
    }
    current = segment;
    if (segment) {
      segment.button.setAttribute("aria-current", "true");
      followTo(segment.button);
    }
  }

  function interacting() {
    // Someone reading or moving through the transcript keeps it where they put it: for a few
    // seconds after any touch, and for as long as keyboard focus is in it.
    if (window.performance && window.performance.now() - lastInteraction < 5000) {
      return true;
    }
    var active = document.activeElement;
    if (transcript && active && transcript.contains(active)) {
      try {
        return active.matches(":focus-visible");
      } catch (error) {
        return true;
      }
    }
    return false;
  }

  function followTo(button) {
    if (!transcript || (follow && !follow.checked) || interacting()) {
      return;
    }
    // Only the transcript's own box scrolls (never the page), and only when the line is out
    // of sight; without smooth motion where the person asked for less motion.
    var top = button.offsetTop;
    var bottom = top + button.offsetHeight;
    var shownFrom = transcript.scrollTop;
    var shownTo = shownFrom + transcript.clientHeight;
    if (top >= shownFrom && bottom <= shownTo) {
      return;
    }
    var target = Math.max(0, top - transcript.clientHeight / 3);
    var smooth = !(reduceMotion && reduceMotion.matches);
    if (transcript.scrollTo) {
      transcript.scrollTo({ top: target, behavior: smooth ? "smooth" : "auto" });
    } else {
      transcript.scrollTop = target;
    }
  }

  if (transcript) {
    transcript.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button[data-start]") : null;
      if (!button) {
        return;
      }
      for (var i = 0; i < segments.length; i += 1) {
        if (segments[i].button === button) {
          mark(segments[i]);
          seek(segments[i].start, true);
          return;
        }
      }
    });
    ["pointerdown", "wheel", "touchstart", "keydown"].forEach(function (kind) {
      transcript.addEventListener(
        kind,
        function () {
          lastInteraction = window.performance ? window.performance.now() : 0;
        },
        { passive: true }
      );
    });
  }

  // -- keeping in step ----------------------------------------------------------------------
  ["timeupdate", "seeked", "play", "pause", "ended"].forEach(function (kind) {
    audio.addEventListener(kind, schedulePaint);
  });

  if (window.ResizeObserver && canvas) {
    new window.ResizeObserver(schedulePaint).observe(canvas);
  } else {
    window.addEventListener("resize", schedulePaint);
  }

  // -- when access ends -----------------------------------------------------------------------
  // The grant's expiry ends the listen too: the audio held in this page goes with it.
  if (isFinite(accessLeft) && accessLeft >= 0 && accessLeft < 2147483) {
    window.setTimeout(function () {
      ended = true;
      audio.pause();
      audio.removeAttribute("src");
      audio.load();
      if (blobUrl) {
        URL.revokeObjectURL(blobUrl);
        blobUrl = null;
      }
      fail("Your access to this recording has ended. Ask for access again to keep listening.");
    }, accessLeft * 1000);
  }

  paint();
  load();
})();
